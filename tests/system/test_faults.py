"""Faults: PostgreSQL stopped, Redis stopped, a gunicorn worker killed mid-request.

The tests start their own PostgreSQL cluster (``initdb`` into a temporary folder, its own port, run as the
``postgres`` system user when the tests run as root, since initdb refuses root) and their own
``redis-server`` on its own port, so stopping either disturbs nothing else on the machine. One gunicorn
(two workers) serves all three tests; each test leaves the cluster, Redis and gunicorn running.

- **PostgreSQL stopped mid-run** (``pg_ctl stop -m immediate`` while concerns are being raised): every page
  answers 503 (the raise form comes back with the person's words; the API answers JSON; ``/healthz`` says
  ``unavailable``) within ``SPEAKUP_DATABASE_CONNECT_TIMEOUT`` plus a margin, also when the port accepts
  connections but nothing answers (a black hole, as for a vanished host). Every case in the database is
  complete (all its key grants, its timeline entry and audit event), every concern answered 201 opens with
  its access code, the audit chain verifies, and when the database is back the same gunicorn serves again
  without a restart (``pool_pre_ping``).
- **Redis stopped**: sign-in and access-code checks fail closed (503, "cannot check ... just now", the
  sign-in form keeps the email address); raising a concern still works (HTML and API). When Redis returns
  the limits count again without a restart. Redis frozen (SIGSTOP): the same answers, within twice
  ``SPEAKUP_RATELIMIT_STORAGE_TIMEOUT`` plus a margin.
- **A gunicorn worker killed mid-request**: a concern is held inside its database transaction (the test
  holds the audit chain's advisory lock, so the case row is written but not committed), the worker handling
  that connection is found through ``/proc`` and SIGKILLed. gunicorn replaces it; nothing of the interrupted
  case remains, every case committed before opens with its access code, and the service answers again.

The same behaviour is also checked in-process (no servers, SQLite and PostgreSQL like every app test), at
the end of this module: a limit store that refuses connections, a database that fails every statement.

Where the server tests run: PostgreSQL server binaries (``initdb``, ``pg_ctl``) under
``/usr/lib/postgresql/<version>/bin`` (or ``SPEAKUP_TEST_PG_BIN``) and ``redis-server`` on PATH. When they
are missing the tests fail if ``SPEAKUP_TEST_DATABASE_URL`` is set (as in CI) and are skipped, with the
reason, otherwise. Nothing a person wrote and no access code is ever printed: assertion messages carry
statuses and counts only, and pytest's assertion rewriting is off for this module (PYTEST_DONT_REWRITE), so
a failing assert never shows the page or JSON it looked at.
"""

from __future__ import annotations

import contextlib
import html
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import psycopg
import pytest
import redis
from support.html import ACCESS_CODE_RE, REFERENCE_RE
from support.present import present
from support.servers import (
    ROOT,
    Answer,
    Browser,
    Server,
    create_guardian,
    free_port,
    init_installation,
    production_env,
    run_cli,
    sign_in,
    start_gunicorn,
    stop_process,
    unavailable,
    wait_healthy,
)

from speakup.crypto import access_codes
from speakup.ops import audit

Timed = TypeVar("Timed")
USER_AGENT = "SpeakUpFaultTest/1.0"
GUARDIAN_EMAIL = "fault-guardian@example.org"
SIGN_IN_FAILED = "Enter a correct email address, password and security code"
DATABASE_TIMEOUT = 2  # SPEAKUP_DATABASE_CONNECT_TIMEOUT for the server under test (libpq's minimum)
LIMIT_STORE_TIMEOUT = 1  # SPEAKUP_RATELIMIT_STORAGE_TIMEOUT
MARGIN = 3.0  # seconds allowed on top of a timeout: a loaded two-core CI machine, gunicorn, rendering
# Below a second connect timeout: a page that waited for the dead database twice (a retry, a second query
# from an error handler) is caught.
ONE_WAIT = DATABASE_TIMEOUT + 1.8


# --- The parts the tests start and stop ----------------------------------------------------------------


def _unavailable(message: str) -> None:
    unavailable(f"fault tests: {message}")


def _postgres_bin() -> Path:
    explicit = os.environ.get("SPEAKUP_TEST_PG_BIN")
    candidates = [Path(explicit)] if explicit else []
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for candidate in [*candidates, *versions]:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    _unavailable("PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin")
    raise AssertionError("unreachable")


class LocalPostgres:
    """A throwaway cluster: trust authentication on 127.0.0.1 only, fsync off, sockets in its own folder."""

    def __init__(self, bin_dir: Path, root: Path):
        self.bin_dir = bin_dir
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/speakup"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, cwd=self.root, capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            log = (self.root / "server.log").read_text(errors="replace") if (self.root / "server.log").exists() else ""
            raise RuntimeError(f"{args[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n{log}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start()
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute("CREATE DATABASE speakup")

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        # fsync off is safe here: an immediate stop is a crash of PostgreSQL, not of the machine, so the
        # kernel still holds every write. synchronous_commit stays on: off, a crash loses acknowledged commits.
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w", "start")

    def stop(self, mode: str = "immediate") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        try:
            with psycopg.connect(self.url, connect_timeout=2):
                return True
        except psycopg.Error:
            return False

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.url, autocommit=True, connect_timeout=5)


class LocalRedis:
    def __init__(self, executable: str, root: Path):
        self.executable = executable
        self.root = root
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None
        self.frozen = False

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with self.client() as client:
                    client.ping()
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not answer within 10 s")

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=2)

    def stop(self) -> None:
        if self.process is not None:
            self.thaw()  # a stopped process would not act on SIGTERM
            stop_process(self.process)
            self.process = None

    def freeze(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        if self.process is not None and self.frozen:
            self.process.send_signal(signal.SIGCONT)
        self.frozen = False

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None and not self.frozen


@dataclass
class Stack:
    postgres: LocalPostgres
    redis: LocalRedis
    env: dict[str, str]
    server: Server
    guardian: Browser  # signed in once: a security code cannot be used twice
    guardians: int = 1

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def process(self) -> subprocess.Popen:
        return self.server.process

    def ensure_up(self) -> None:
        """Each test starts from a working service, whatever the test before it left behind."""
        self.redis.thaw()
        if not self.redis.running():
            self.redis.start()
        if not self.postgres.running():
            self.postgres.start()
        with self.redis.client() as client:
            client.flushdb()  # no rate-limit budget carried over
        wait_healthy(self.base_url, self.server.process, self.server.output)


def _gunicorn_env(postgres: LocalPostgres, redis_server: LocalRedis) -> dict[str, str]:
    return production_env(
        postgres.url,
        database_connect_timeout=str(DATABASE_TIMEOUT),
        ratelimit_storage_uri=redis_server.url,
        ratelimit_storage_timeout=str(LIMIT_STORE_TIMEOUT),
        access_code_rate_limit="3 per minute",
        submit_rate_limit="1000 per hour",  # the test raises many concerns from one address
        workers="2",
        threads="4",
    )


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    bin_dir = _postgres_bin()
    redis_executable = shutil.which("redis-server")
    if redis_executable is None:
        _unavailable("redis-server not found on PATH")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        _unavailable("running as root needs runuser to start PostgreSQL as the postgres user")

    # Not pytest's tmp_path: its parents are private to root, and the cluster runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="speakup-faults-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    postgres = LocalPostgres(bin_dir, root)
    redis_server = LocalRedis(redis_executable or "redis-server", root)
    server: Server | None = None
    try:
        try:
            postgres.init()
        except (RuntimeError, OSError, psycopg.Error) as error:
            _unavailable(f"could not start a PostgreSQL cluster: {error}")
        redis_server.start()
        env = _gunicorn_env(postgres, redis_server)
        key_file = init_installation(env, root / "recovery-key.txt")
        staff = create_guardian(env, GUARDIAN_EMAIL, "Fault Guardian", key_file)
        server = start_gunicorn(env, root)
        guardian = Browser(server.base_url, USER_AGENT)
        queue = sign_in(guardian, staff)
        assert queue.status == 200 and queue.url.endswith("/guardian/"), f"guardian sign-in: {queue.status}"
        yield Stack(postgres, redis_server, env, server, guardian)
    finally:
        if server is not None:
            server.stop()
        redis_server.stop()
        with contextlib.suppress(RuntimeError, OSError, subprocess.TimeoutExpired):
            postgres.stop("fast")  # fails when already stopped, or never started
        shutil.rmtree(root, ignore_errors=True)


# --- Helpers ------------------------------------------------------------------------------------------


@dataclass
class Raised:
    reference: str
    code: str = field(repr=False)
    what: str = field(repr=False)


def _bearer(code: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {code}"}


def _path(answer: Answer) -> str:
    """The path of the page an answer came from, after the redirects urllib followed."""
    return urlsplit(answer.url).path


def _timed(action: Callable[[], Timed]) -> tuple[Timed, float]:
    started = time.monotonic()
    answer = action()
    return answer, time.monotonic() - started


def _what() -> str:
    return f"fault-test concern {uuid.uuid4().hex}"


def _raise_by_api(stack: Stack, what: str | None = None) -> tuple[Answer, Raised | None]:
    what = what or _what()
    api = Browser(stack.base_url, USER_AGENT, cookies=False)
    answer = api.post("/api/v1/concerns", json_body={"what_happened": what, "anonymity": "anonymous"})
    if answer.status != 201:
        return answer, None
    body = answer.json()
    return answer, Raised(body["reference"], body["access_code"], what)


def _all_raised(*attempts: tuple[Answer, Raised | None]) -> list[Raised]:
    """The concerns the attempts raised, every one of which must have been."""
    raised = [concern for _, concern in attempts if concern is not None]
    assert len(raised) == len(attempts), "could not raise the first concerns"
    return raised


def _raise_by_form(stack: Stack, what: str | None = None) -> tuple[Answer, Raised | None]:
    what = what or _what()
    reporter = Browser(stack.base_url, USER_AGENT)
    token = reporter.get("/raise").csrf()
    answer = reporter.post("/raise", form={"csrf_token": token, "what_happened": what, "anonymity": "anonymous"})
    code, reference = ACCESS_CODE_RE.search(answer.text), REFERENCE_RE.search(answer.text)
    if answer.status != 200 or not code or not reference:
        return answer, None
    return answer, Raised(html.unescape(reference.group(1)).strip(), html.unescape(code.group(1)).strip(), what)


def _opens(stack: Stack, raised: Raised) -> bool:
    """The reporter's access code still opens the case, and their own words decrypt: by the API (which
    unwraps the case key with the code) and on the follow-up page (which shows the concern)."""
    api = Browser(stack.base_url, USER_AGENT, cookies=False)
    answer = api.get("/api/v1/follow-up", headers=_bearer(raised.code))
    if answer.status != 200 or answer.json().get("reference") != raised.reference:
        return False
    reporter = Browser(stack.base_url, USER_AGENT)
    start = reporter.get("/follow-up")
    page = reporter.post("/follow-up", form={"csrf_token": start.csrf(), "access_code": raised.code})
    return page.status == 200 and page.url.endswith("/follow-up/case") and raised.what in html.unescape(page.text)


def _case_integrity(stack: Stack) -> tuple[dict[str, int], list[str]]:
    """Row counts, and the references of cases that lack anything a finished raise writes."""
    with stack.postgres.connect() as conn:
        counts = {
            table: present(conn.execute(f"SELECT count(*) FROM {table}").fetchone(), "count")[0]  # noqa: S608 - fixed names
            for table in ("cases", "case_grants", "case_events", "audit_events")
        }
        rows = conn.execute(
            """
            SELECT c.reference, c.concern_ct IS NOT NULL,
                   (SELECT count(*) FROM case_grants g WHERE g.case_id = c.id AND g.recipient = 'reporter'),
                   (SELECT count(*) FROM case_grants g WHERE g.case_id = c.id AND g.recipient = 'recovery'),
                   (SELECT count(*) FROM case_grants g WHERE g.case_id = c.id AND g.recipient = 'guardian'),
                   (SELECT count(*) FROM case_events e WHERE e.case_id = c.id AND e.kind = 'raised'),
                   (SELECT count(*) FROM audit_events a WHERE a.case_id = c.id AND a.action = %s)
            FROM cases c
            """,
            (audit.Action.CASE_RAISED,),
        ).fetchall()
        orphans = present(
            conn.execute(
                "SELECT count(*) FROM case_grants g WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = g.case_id)"
            ).fetchone(),
            "count",
        )[0]
    complete = (True, 1, 1, stack.guardians, 1, 1)
    incomplete = [row[0] for row in rows if tuple(row[1:]) != complete]
    if orphans:
        incomplete.append(f"{orphans} grants without a case")
    return counts, incomplete


def _references(stack: Stack) -> set[str]:
    with stack.postgres.connect() as conn:
        return {row[0] for row in conn.execute("SELECT reference FROM cases")}


def _wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"{what} within {seconds} s")


# --- PostgreSQL stopped -------------------------------------------------------------------------------


def _black_hole(port: int) -> socket.socket:
    """Accepts TCP connections on the database's port and never answers, like a host that vanished:
    only the connect timeout can end the wait."""
    hole = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    hole.bind(("127.0.0.1", port))
    hole.listen(128)
    return hole


def _pages_while_database_is_down(stack: Stack, before: list[Raised], limit: float) -> list[float]:
    """Every kind of page answers 503, each within ``limit`` seconds; returns the times taken."""
    times = []
    api = Browser(stack.base_url, USER_AGENT, cookies=False)
    reporter = Browser(stack.base_url, USER_AGENT)

    health, took = _timed(lambda: api.get("/healthz"))
    times.append(took)
    assert health.status == 503 and health.json()["failed"]["database"], f"/healthz: {health.status}"

    form = reporter.get("/raise")  # the form itself needs no database
    assert form.status == 200, f"GET /raise: {form.status}"
    words = _what()
    page, took = _timed(
        lambda: reporter.post(
            "/raise", form={"csrf_token": form.csrf(), "what_happened": words, "anonymity": "anonymous"}
        )
    )
    times.append(took)
    kept = words in html.unescape(page.text)
    explained = "Nothing was stored" in page.text
    assert page.status == 503 and kept and explained, f"POST /raise: {page.status}, words kept: {kept}"

    raised, took = _timed(lambda: _raise_by_api(stack)[0])
    times.append(took)
    assert raised.status == 503 and raised.json()["error"]["code"] == "unavailable", f"API raise: {raised.status}"

    # A database outage is never reported as a wrong access code.
    followed, took = _timed(lambda: api.get("/api/v1/follow-up", headers=_bearer(before[0].code)))
    times.append(took)
    assert followed.status == 503 and followed.json()["error"]["code"] == "unavailable", (
        f"API follow-up: {followed.status}"
    )

    start = reporter.get("/follow-up")
    assert start.status == 200, f"GET /follow-up: {start.status}"
    (sent, checked), took = _timed(
        lambda: reporter.sent_form("/follow-up", {"csrf_token": start.csrf(), "access_code": before[0].code})
    )
    times.append(took)
    # A redirect back to the form (for the shared computer), whose page says the service is unavailable; the code is in
    # neither.
    assert sent.status == 303 and before[0].code not in sent.text, f"follow-up: {sent.status}"
    back = _path(checked) == "/follow-up"
    unavailable_shown = "Sorry, the service is unavailable" in checked.text
    assert checked.status == 200 and back and unavailable_shown, f"follow-up's page: {checked.status}, back: {back}"
    assert before[0].code not in checked.text, "the access code was echoed"

    queue, took = _timed(lambda: stack.guardian.get("/guardian/"))
    times.append(took)
    assert queue.status == 503, f"guardian queue: {queue.status}"

    slow = [round(t, 2) for t in times if t >= limit]
    assert not slow, f"answers took {slow} s, more than {limit} s"
    return times


def _server_errors(stack: Stack) -> str:
    """What the app and gunicorn said about errors, for a failure message (type and place only: no data)."""
    lines = []
    for log in (stack.server.output, stack.server.error_log):
        if log.exists():
            text = log.read_text(errors="replace").splitlines()
            lines += [line[:2000] for line in text if "unexpected" in line or "Error handling request" in line]
    return "\n".join(lines[-20:]) or "(no error lines in the server's logs)"


@pytest.mark.slow
def test_postgresql_stopped_mid_run_answers_503_and_resumes_by_itself(stack: Stack) -> None:
    stack.ensure_up()
    before = _all_raised(_raise_by_api(stack), _raise_by_form(stack), _raise_by_api(stack))

    # Concerns keep arriving while the database crashes under them.
    raised_during: list[Raised] = []
    statuses: list[int] = []
    stop = threading.Event()

    def keep_raising() -> None:
        while not stop.is_set():
            answer, raised = _raise_by_api(stack)
            statuses.append(answer.status)
            if raised is not None:
                raised_during.append(raised)

    raising = threading.Thread(target=keep_raising, daemon=True)
    raising.start()
    try:
        time.sleep(0.7)
        stack.postgres.stop("immediate")
        time.sleep(0.7)
    finally:
        stop.set()
        raising.join(timeout=30)
    unexpected = sorted({status for status in statuses if status not in (201, 503)})
    assert not unexpected, (
        f"while the database went down, answers other than 201 and 503: {unexpected}\n{_server_errors(stack)}"
    )
    assert statuses.count(503) > 0, "no request met the stopped database"

    # Refused connections: 503 at once.
    _pages_while_database_is_down(stack, before, limit=MARGIN)

    # A host that accepts and never answers: 503 once the connect timeout runs out (once), never a hang.
    hole = _black_hole(stack.postgres.port)
    try:
        times = _pages_while_database_is_down(stack, before, limit=ONE_WAIT)
        assert times[0] >= DATABASE_TIMEOUT - 0.5, f"/healthz took {times[0]:.2f} s: the black hole was not reached"
    finally:
        hole.close()

    # The database comes back; the same gunicorn, never restarted, serves again.
    stack.postgres.start()
    restarted_pid = stack.process.pid
    api = Browser(stack.base_url, USER_AGENT, cookies=False)
    first = api.get("/healthz")
    assert first.status == 200, f"first /healthz after the database came back: {first.status}"
    for _ in range(8):  # several connections, so both workers' pools are exercised
        assert api.get("/healthz").status == 200
    assert stack.process.poll() is None and stack.process.pid == restarted_pid
    assert stack.guardian.get("/guardian/").status == 200, "the guardian's session did not survive"
    after_answer, after = _raise_by_api(stack)
    assert after is not None, f"raising after the outage: {after_answer.status}"

    # Nothing partial: every case is complete, every concern answered 201 is there and opens with its code.
    counts, incomplete = _case_integrity(stack)
    assert not incomplete, f"{len(incomplete)} incomplete cases after the crash"
    expected = len(before) + len(raised_during) + 1
    in_doubt = statuses.count(503)  # a commit can land just as the connection dies: complete, but answered 503
    assert expected <= counts["cases"] <= expected + in_doubt, f"{counts['cases']} cases, expected {expected}"
    references = _references(stack)
    lost = [r.reference for r in [*before, *raised_during, after] if r.reference not in references]
    assert not lost, f"cases answered 201 but missing: {lost}"
    unopened = [r.reference for r in [*before, *raised_during, after] if not _opens(stack, r)]
    assert not unopened, f"cases that no longer open with their access code: {unopened}"
    verified = run_cli(stack.env, "audit", "verify")
    assert "Audit chain intact" in verified


# --- Redis stopped ------------------------------------------------------------------------------------


def _limit_checks_fail_closed(stack: Stack, raised: Raised, limit: float) -> None:
    api = Browser(stack.base_url, USER_AGENT, cookies=False)
    times = []

    followed, took = _timed(lambda: api.get("/api/v1/follow-up", headers=_bearer(raised.code)))
    times.append(took)
    error = followed.json().get("error", {}) if followed.status == 503 else {}
    assert followed.status == 503 and error.get("code") == "unavailable", f"API follow-up: {followed.status}"
    assert "cannot be checked just now" in error.get("message", "") and int(followed.headers["Retry-After"]) > 0
    leaked = raised.code in followed.text
    assert not leaked, "the access code was echoed"

    reply, took = _timed(
        lambda: api.post("/api/v1/follow-up/messages", json_body={"body": "hello"}, headers=_bearer(raised.code))
    )
    times.append(took)
    assert reply.status == 503, f"API reply: {reply.status}"

    reporter = Browser(stack.base_url, USER_AGENT)
    start = reporter.get("/follow-up")
    (sent, page), took = _timed(
        lambda: reporter.sent_form("/follow-up", {"csrf_token": start.csrf(), "access_code": raised.code})
    )
    times.append(took)
    # A redirect back to the form (for the shared computer) that says when to try again, then the form's page saying
    # why.
    leaked = raised.code in sent.text or raised.code in page.text
    assert sent.status == 303 and int(sent.headers.get("Retry-After", "0")) > 0, f"follow-up: {sent.status}"
    back = _path(page) == "/follow-up"
    assert page.status == 200 and back and "We cannot check access codes just now" in page.text, (
        f"follow-up page: {page.status}, back to the form: {back}"
    )
    assert not leaked, "the access code was echoed"
    assert 'action="/follow-up"' in page.text, "the access-code form is gone"

    staff = Browser(stack.base_url, USER_AGENT)
    sign_in = staff.get("/guardian/sign-in")
    assert sign_in.status == 200, f"GET sign-in: {sign_in.status}"
    typed_password = secrets.token_urlsafe(12)
    fields = {
        "csrf_token": sign_in.csrf(),
        "email": GUARDIAN_EMAIL,
        "password": typed_password,
        "security_code": "123456",
    }
    (sent, refused), took = _timed(lambda: staff.sent_form("/guardian/sign-in", fields))
    times.append(took)
    # A redirect back to the sign-in page (for the shared computer) that says when to try again; that page says why, and
    # keeps the email address typed, never the password.
    assert sent.status == 303 and typed_password not in sent.text, f"sign-in: {sent.status}"
    assert int(sent.headers.get("Retry-After", "0")) > 0, "the sign-in's answer says when to try again"
    back = _path(refused) == "/guardian/sign-in"
    assert refused.status == 200 and back and "We cannot check sign-ins just now" in refused.text, (
        f"sign-in page: {refused.status}, back to the sign-in page: {back}"
    )
    assert f'value="{GUARDIAN_EMAIL}"' in refused.text, "the email address typed was lost"
    assert typed_password not in refused.text, "the password was echoed"

    # Raising a concern fails open: the HTML form and the API both still work.
    by_api, took = _timed(lambda: _raise_by_api(stack)[0])
    times.append(took)
    assert by_api.status == 201, f"API raise with the limit store down: {by_api.status}"
    by_form, took = _timed(lambda: _raise_by_form(stack)[0])
    times.append(took)
    shown = ACCESS_CODE_RE.search(by_form.text) is not None
    assert by_form.status == 200 and shown, f"HTML raise with the limit store down: {by_form.status}"

    # Signed-in guardians carry on: their pages have no limit to count.
    assert stack.guardian.get("/guardian/").status == 200

    slow = [round(t, 2) for t in times if t >= limit]
    assert not slow, f"answers took {slow} s, more than {limit} s"


@pytest.mark.slow
def test_redis_stopped_sign_in_and_access_codes_fail_closed_raising_still_works(stack: Stack) -> None:
    stack.ensure_up()
    _, raised = _raise_by_api(stack)
    assert raised is not None and _opens(stack, raised)
    limit = 2 * LIMIT_STORE_TIMEOUT + MARGIN  # one retry after the first timeout

    stack.redis.stop()
    _limit_checks_fail_closed(stack, raised, limit)
    # Monitoring is told; load balancers keep the server, as every server shares the one Redis (issue 27).
    assert "redis" in _health(stack, "/healthz")[1], "/healthz does not name Redis while it is down"
    assert _health(stack, "/readyz")[0] == 200

    # Redis returns: the same gunicorn counts limits again, in Redis.
    stack.redis.start()
    assert _opens(stack, raised), "the right access code is refused after Redis came back"
    api = Browser(stack.base_url, USER_AGENT, cookies=False)
    wrong = access_codes.normalise_access_code(raised.code)
    wrong = wrong[:-1] + ("A" if wrong[-1] != "A" else "B")
    statuses = [api.get("/api/v1/follow-up", headers=_bearer(wrong)).status for _ in range(4)]
    assert statuses == [401, 401, 401, 429], f"wrong codes after Redis came back: {statuses}"
    with stack.redis.client() as client:
        assert client.dbsize() > 0, "the limits were not counted in Redis"
        client.flushdb()
    staff = Browser(stack.base_url, USER_AGENT)
    sign_in = staff.get("/guardian/sign-in")
    checked = staff.post(
        "/guardian/sign-in",
        form={"csrf_token": sign_in.csrf(), "email": GUARDIAN_EMAIL, "password": "wrong", "security_code": "000000"},
    )
    checked_again = _path(checked) == "/guardian/sign-in" and SIGN_IN_FAILED in checked.text
    unchecked = "We cannot check sign-ins just now" in checked.text
    assert checked.status == 200 and checked_again and not unchecked, (
        f"sign-in is checked again after Redis came back: {checked.status}, refused as wrong: {checked_again}"
    )

    # Redis frozen (accepts, never answers): the same answers, bounded by the store's timeout.
    stack.redis.freeze()
    try:
        _limit_checks_fail_closed(stack, raised, limit)
    finally:
        stack.redis.thaw()
    assert _opens(stack, raised), "the right access code is refused after Redis thawed"


def _health(stack: Stack, path: str) -> tuple[int, dict[str, str]]:
    """A health answer through gunicorn: its status and what it names as failed."""
    answer = Browser(stack.base_url, USER_AGENT, cookies=False).get(path)
    return answer.status, json.loads(answer.text).get("failed", {})


# --- The schema one migration behind ------------------------------------------------------------------


def test_a_schema_one_migration_behind_is_a_503_and_no_new_server_starts(stack: Stack) -> None:
    """Issue 27: against a schema a migration behind, /healthz answered 200 while every raise answered 503. Through
    gunicorn now: /healthz and /readyz name the schema, and a server started on it refuses, naming the command."""
    stack.ensure_up()
    versions = sorted(path.name.split("_")[0] for path in (ROOT / "speakup/migrations/versions").glob("[0-9]*_*.py"))
    run_cli(stack.env, "downgrade-schema", "--to", versions[-2])
    try:
        for path in ("/healthz", "/readyz"):
            status, failed = _health(stack, path)
            assert status == 503 and "schema" in failed, f"{path} with the schema behind: {status} {failed}"
        env = {**stack.env, "SPEAKUP_BIND": f"127.0.0.1:{free_port()}"}
        started = subprocess.run(
            [sys.executable, "-m", "gunicorn", "wsgi:app", "-c", "gunicorn.conf.py"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert started.returncode != 0, "a server started on a schema behind the code"
        assert "speakup init" in started.stdout + started.stderr
    finally:
        run_cli(stack.env, "init", "--recovery-key-file", "/dev/null")
    assert "schema" not in _health(stack, "/healthz")[1]


# --- A gunicorn worker killed mid-request -------------------------------------------------------------


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _process_serving(server_port: int, client_port: int, candidates: set[int]) -> int:
    """The process holding the server end of one TCP connection: its socket inode in /proc/net/tcp,
    then the process whose file descriptors include that socket."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            columns = line.split()
            local, remote = columns[1], columns[2]
            if local.endswith(f":{server_port:04X}") and remote.endswith(f":{client_port:04X}"):
                inode = columns[9]
    assert inode, "the connection is not in /proc/net/tcp"
    target = f"socket:[{inode}]"
    for pid in candidates:
        for descriptor in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(descriptor) == target:
                    return pid
            except OSError:
                continue
    pytest.fail("no gunicorn worker holds the connection")
    raise AssertionError("unreachable")


@pytest.mark.slow
def test_worker_killed_mid_request_loses_nothing_committed(stack: Stack) -> None:
    stack.ensure_up()
    committed = _all_raised(_raise_by_api(stack), _raise_by_form(stack))
    counts_before, incomplete = _case_integrity(stack)
    assert not incomplete
    master = stack.process.pid
    workers = _children(master)
    assert len(workers) == 2, f"expected 2 gunicorn workers, found {len(workers)}"

    # Hold the audit chain's lock: the next raise writes its case row, then waits inside its transaction.
    holder = stack.postgres.connect()
    holder.execute("SELECT pg_advisory_lock(%s)", (audit.ADVISORY_LOCK_KEY,))
    server_port = int(stack.base_url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", server_port, timeout=30)
    connection.connect()
    client_port = connection.sock.getsockname()[1]
    outcome: dict[str, object] = {}

    def send() -> None:
        body = json.dumps({"what_happened": _what(), "anonymity": "anonymous"})
        try:
            connection.request("POST", "/api/v1/concerns", body, {"Content-Type": "application/json"})
            outcome["status"] = connection.getresponse().status
        except (OSError, http.client.HTTPException) as error:
            outcome["error"] = type(error).__name__

    sender = threading.Thread(target=send, daemon=True)
    try:
        sender.start()
        waiting: list[int] = []

        def blocked_backend() -> bool:
            rows = holder.execute(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'"
            ).fetchall()
            waiting[:] = [row[0] for row in rows]
            return bool(waiting)

        _wait_for(blocked_backend, 15, "the raise did not reach its transaction")
        backend = waiting[0]
        wrote_case = present(
            holder.execute(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE l.pid = %s AND c.relname = 'cases' AND l.mode = 'RowExclusiveLock'",
                (backend,),
            ).fetchone(),
            "count",
        )[0]
        assert wrote_case, "the case row was not written before the kill: the test would prove less"

        victim = _process_serving(server_port, client_port, workers)
        os.kill(victim, signal.SIGKILL)
    finally:
        holder.execute("SELECT pg_advisory_unlock_all()")
        holder.close()
    sender.join(timeout=30)
    connection.close()
    assert "status" not in outcome, f"the killed request was answered: {outcome.get('status')}"

    # The database rolls the dead connection's transaction back; gunicorn replaces the worker.
    def backend_gone() -> bool:
        with stack.postgres.connect() as conn:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (backend,)).fetchone()
            return present(row, "count")[0] == 0

    _wait_for(backend_gone, 15, "the killed worker's database session did not end")
    _wait_for(
        lambda: len(_children(master)) == 2 and victim not in _children(master),
        20,
        "gunicorn did not replace the killed worker",
    )
    counts_after, incomplete = _case_integrity(stack)
    assert not incomplete, f"{len(incomplete)} incomplete cases after the kill"
    assert counts_after == counts_before, f"rows changed by the killed request: {counts_before} -> {counts_after}"

    # Everything committed before is intact and decrypts; the service answers again, on both workers.
    unopened = [r.reference for r in committed if not _opens(stack, r)]
    assert not unopened, f"committed cases that no longer open: {unopened}"
    reporter = Browser(stack.base_url, USER_AGENT)
    start = reporter.get("/follow-up")
    case_page = reporter.post("/follow-up", form={"csrf_token": start.csrf(), "access_code": committed[1].code})
    shown = committed[1].what in html.unescape(case_page.text)
    assert case_page.status == 200 and shown, f"follow-up page after the kill: {case_page.status}"
    api = Browser(stack.base_url, USER_AGENT, cookies=False)
    assert all(api.get("/healthz").status == 200 for _ in range(6))
    answer, after = _raise_by_api(stack)
    assert after is not None and _opens(stack, after), f"raising after the kill: {answer.status}"
    _, incomplete = _case_integrity(stack)
    assert not incomplete
