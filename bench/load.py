"""The load generator: a separate process that drives one server with N concurrent clients.

`python -m bench.load < job.json > result.json`. The job names a scenario, the concurrency levels,
the durations and what the clients need (access codes, accounts, signed-in sessions); the result holds
every latency, the errors and what changed (sessions created, TOTP steps used). It runs in its own
process so the server's workers never share an interpreter (or a GIL) with the clients.

A small asyncio HTTP/1.1 client on keep-alive connections (one per simulated person) keeps the
generator's own CPU cost per request well below the server's; the standard library's clients cost
several times more per request, and this machine has only two cores to share between both sides.
Nothing secret (concern text, access codes, passwords) is ever printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import re
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from speakup.crypto import totp

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
TIMEOUT = 60


def _parse_head(head: bytes) -> Answer:
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise HttpError("bad status line")
    headers = []
    for line in header_lines:
        if ":" in line:
            key, value = line.split(":", 1)
            headers.append((key.strip().lower(), value.strip()))
    return Answer(int(parts[1]), headers, b"")


class HttpError(Exception):
    """The connection failed or the answer could not be read."""


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key == name), None)


@dataclass
class Client:
    """One simulated person: one keep-alive connection and a cookie jar."""

    host: str
    port: int
    cookies: dict[str, str] = field(default_factory=dict)
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    state: dict = field(default_factory=dict)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Answer:
        for attempt in (1, 2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
                fresh = True
            else:
                fresh = False
            try:
                return await asyncio.wait_for(self._exchange(method, path, body, headers or {}), TIMEOUT)
            except (OSError, asyncio.IncompleteReadError, HttpError) as exc:
                await self.close()
                # A keep-alive connection the server closed while idle is retried once on a new one.
                if fresh or attempt == 2:
                    raise HttpError(str(exc) or type(exc).__name__) from exc
        raise AssertionError("unreachable")

    async def _exchange(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        assert self.reader is not None and self.writer is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await self.writer.drain()
        answer = _parse_head(await self.reader.readuntil(b"\r\n\r\n"))
        await self._read_body(answer)
        self._keep_cookies(answer)
        if (answer.header("connection") or "").lower() == "close":
            await self.close()
        return answer

    async def _read_body(self, answer: Answer) -> None:
        assert self.reader is not None
        if answer.header("transfer-encoding") == "chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                chunks.append(chunk[:-2])
            answer.body = b"".join(chunks)
        elif answer.header("content-length") is not None:
            answer.body = await self.reader.readexactly(int(answer.header("content-length") or 0))
        else:
            answer.body = await self.reader.read()
            await self.close()

    def _keep_cookies(self, answer: Answer) -> None:
        for key, value in answer.headers:
            if key == "set-cookie":
                name, _, rest = value.partition("=")
                cookie_value = rest.split(";", 1)[0]
                if not cookie_value or "max-age=0" in value.lower() or "1970" in value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = cookie_value

    async def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        return await self.request("GET", path, headers=headers)

    async def post_form(self, path: str, form: dict[str, str]) -> Answer:
        return await self.request(
            "POST", path, urlencode(form).encode(), {"Content-Type": "application/x-www-form-urlencoded"}
        )

    async def post_json(self, path: str, payload: dict, headers: dict[str, str] | None = None) -> Answer:
        return await self.request(
            "POST", path, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})}
        )


def csrf_of(answer: Answer) -> str:
    match = CSRF_RE.search(answer.body.decode("utf-8", "replace"))
    if not match:
        raise HttpError(f"no CSRF token (status {answer.status})")
    return html.unescape(match.group(1))


# --- Accounts and their TOTP steps -----------------------------------------------------------


class AccountPool:
    """Staff accounts to sign in with. The server refuses a TOTP code whose time step is not later than
    the account's last one (replay protection), and accepts one step of drift either way, so each
    account signs in at most twice at once and then once per 30 s: hand out accounts accordingly."""

    def __init__(self, accounts: list[dict], last_steps: dict[str, int]):
        self.accounts = accounts
        self.last_steps = dict(last_steps)
        self.busy: set[str] = set()
        self.cursor = 0
        self.waited = 0.0  # seconds clients spent waiting for a usable account: must stay near zero

    async def acquire(self) -> tuple[dict, int]:
        while True:
            now_step = int(time.time()) // totp.TOTP_STEP
            for _ in range(len(self.accounts)):
                account = self.accounts[self.cursor % len(self.accounts)]
                self.cursor += 1
                email = account["email"]
                if email in self.busy:
                    continue
                # The step before now would be refused if the clock moved on while Argon2 runs; the next
                # step stays acceptable until it is now.
                step = max(self.last_steps.get(email, -1) + 1, now_step)
                if step <= now_step + 1:
                    self.busy.add(email)
                    return account, step
            await asyncio.sleep(0.05)
            self.waited += 0.05

    def release(self, account: dict, step: int, used: bool) -> None:
        self.busy.discard(account["email"])
        if used:
            self.last_steps[account["email"]] = step


async def sign_in(client: Client, pool: AccountPool) -> tuple[float, bool]:
    """One sign-in as a new browser would: fetch the form (not timed), then post it (timed)."""
    await client.close()  # a new person arrives on a new connection
    client.cookies.clear()
    form_page = await client.get("/guardian/sign-in")
    token = csrf_of(form_page)
    account, step = await pool.acquire()
    form = {
        "csrf_token": token,
        "email": account["email"],
        "password": account["password"],
        "security_code": totp.totp_now(bytes.fromhex(account["totp"]), step * totp.TOTP_STEP),
    }
    started = time.perf_counter()
    answer = await client.post_form("/guardian/sign-in", form)
    elapsed = time.perf_counter() - started
    ok = answer.status in (302, 303)  # a redirect to the queue (303 since a POST is answered with "see other")
    pool.release(account, step, ok)
    return elapsed, ok


# --- Scenarios ---------------------------------------------------------------------------------

CONCERN = {
    "what_happened": "A benchmark concern. " + "The handover was rushed and the checks were skipped. " * 8,
    "where": "Ward 7",
    "when": "Last night",
    "anonymity": "anonymous",
}


@dataclass
class Scenario:
    setup: Callable[[Client, int], Awaitable[None]]
    step: Callable[[Client], Awaitable[tuple[float, bool]]]


async def _timed(call: Awaitable[Answer], expect: int) -> tuple[float, bool]:
    started = time.perf_counter()
    answer = await call
    return time.perf_counter() - started, answer.status == expect


def build_scenario(job: dict, shared: dict) -> Scenario:
    name = job["scenario"]
    cases = job.get("cases", [])
    counter = {"next": 0}

    def next_case() -> dict:
        # Round robin over the sampled cases, spread over the whole table.
        counter["next"] += 1
        return cases[counter["next"] % len(cases)]

    scenario = _reporter_scenario(name, cases, next_case) or _staff_scenario(name, shared, next_case)
    if scenario is None:
        raise SystemExit(f"unknown scenario {name}")
    return scenario


async def no_setup(_client: Client, _index: int) -> None:
    return None


def _reporter_scenario(name: str, cases: list[dict], next_case) -> Scenario | None:
    if name == "raise_api":
        return Scenario(no_setup, lambda c: _timed(c.post_json("/api/v1/concerns", CONCERN), 201))
    if name == "floor":
        return Scenario(no_setup, lambda c: _timed(c.post_json("/floor", CONCERN), 201))
    if name == "sealed_floor":
        return Scenario(no_setup, lambda c: _timed(c.post_json("/sealed-floor", CONCERN), 201))
    if name == "followup_api":

        async def followup_api(client: Client) -> tuple[float, bool]:
            auth = {"Authorization": "Bearer " + next_case()["code"]}
            return await _timed(client.get("/api/v1/follow-up", headers=auth), 200)

        return Scenario(no_setup, followup_api)
    if name == "followup_html":

        async def reporter_setup(client: Client, index: int) -> None:
            case = cases[index % len(cases)]
            start = await client.get("/follow-up")
            answer = await client.post_form("/follow-up", {"csrf_token": csrf_of(start), "access_code": case["code"]})
            if answer.status not in (302, 303):  # to the case page
                raise HttpError(f"follow-up sign-in answered {answer.status}")

        return Scenario(reporter_setup, lambda c: _timed(c.get("/follow-up/case"), 200))
    return None


def _staff_scenario(name: str, shared: dict, next_case) -> Scenario | None:
    async def guardian_setup(client: Client, index: int) -> None:
        sessions = shared["sessions"]
        client.cookies = dict(sessions[index % len(sessions)])

    if name.startswith("queue:"):
        path = name.partition(":")[2]
        return Scenario(guardian_setup, lambda c: _timed(c.get(path), 200))
    if name == "case_page":
        return Scenario(guardian_setup, lambda c: _timed(c.get("/guardian/cases/" + next_case()["reference"]), 200))
    if name in ("sign_in", "sign_in_variant"):
        return Scenario(no_setup, lambda c: sign_in(c, shared["pool"]))
    return None


# --- Running a level ------------------------------------------------------------------------


async def run_level(
    url: str, scenario: Scenario, concurrency: int, warmup: float, duration: float
) -> dict[str, object]:
    parts = urlsplit(url)
    clients = [Client(parts.hostname or "127.0.0.1", parts.port or 80) for _ in range(concurrency)]
    setup_gate = asyncio.Semaphore(8)

    async def set_up(index: int, client: Client) -> None:
        async with setup_gate:
            await scenario.setup(client, index)

    await asyncio.gather(*(set_up(i, c) for i, c in enumerate(clients)))
    latencies: list[float] = []
    errors: dict[str, int] = {}
    phase = {"measuring": False}

    async def loop(client: Client, until: float) -> None:
        while time.perf_counter() < until:
            try:
                elapsed, ok = await scenario.step(client)
            except (HttpError, OSError, TimeoutError) as exc:
                ok, elapsed = False, 0.0
                key = type(exc).__name__
            else:
                key = "wrong status"
            if not phase["measuring"]:
                continue
            if ok:
                latencies.append(elapsed)
            else:
                errors[key] = errors.get(key, 0) + 1

    if warmup > 0:
        until = time.perf_counter() + warmup
        await asyncio.gather(*(loop(c, until) for c in clients))
    phase["measuring"] = True
    started = time.perf_counter()
    await asyncio.gather(*(loop(c, started + duration) for c in clients))
    elapsed = time.perf_counter() - started
    for client in clients:
        await client.close()
    return {"concurrency": concurrency, "seconds": elapsed, "latencies": latencies, "errors": errors}


async def run_job(job: dict) -> dict:
    shared: dict = {"sessions": job.get("sessions") or []}
    result: dict = {"levels": []}
    if job.get("accounts"):
        shared["pool"] = AccountPool(job["accounts"], job.get("last_steps", {}))
    if job["scenario"] == "sessions":
        # Guardians sign in once, on a server of their own so its Argon2 memory is not counted against a
        # scenario; every client then works as one of them (sharing cookies, as tabs of one browser do).
        parts = urlsplit(job["url"])
        for _ in range(job.get("session_count", 4)):
            client = Client(parts.hostname or "127.0.0.1", parts.port or 80)
            _elapsed, ok = await sign_in(client, shared["pool"])
            if not ok:
                raise SystemExit("a guardian could not sign in")
            shared["sessions"].append(dict(client.cookies))
            await client.close()
        result["sessions"] = shared["sessions"]
    else:
        scenario = build_scenario(job, shared)
        for concurrency in job["levels"]:
            if "pool" in shared:
                shared["pool"].waited = 0.0
            level = await run_level(job["url"], scenario, concurrency, job["warmup"], job["duration"])
            level["account_wait"] = shared["pool"].waited if "pool" in shared else 0.0
            result["levels"].append(level)
    if "pool" in shared:
        result["last_steps"] = shared["pool"].last_steps
    return result


def main() -> None:
    job = json.load(sys.stdin)
    json.dump(asyncio.run(run_job(job)), sys.stdout)


if __name__ == "__main__":
    main()
