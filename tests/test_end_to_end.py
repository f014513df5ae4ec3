"""End to end through the real server: nothing a person wrote, and no access code, ever reaches a file.

Concerns carrying unique marker strings go in over real HTTP to gunicorn (the JSON API and the HTML form);
the person who raised them and the guardian both read every marker back; then the raw bytes of the SQLite
database, its WAL and shared-memory files and every log are searched for the markers, the names, the contact
details and the access codes. None may be there. The access log must not hold the client address or the
user agent either.
"""

from __future__ import annotations

import base64
import html
import http.cookiejar
import json
import os
import re
import secrets
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from speakup import crypto

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 20
HTTP_TIMEOUT = 10

GUARDIAN_EMAIL = "e2e-guardian@example.org"
GUARDIAN_NAME = "End To End Guardian"

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
ACCESS_CODE_RE = re.compile(r'id="access-code"[^>]*>([^<]+)<')
REFERENCE_RE = re.compile(r'id="case-reference"[^>]*>([^<]+)<')


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _marker(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex}"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    text: str
    url: str

    def json(self) -> dict:
        return json.loads(self.text)

    def csrf(self) -> str:
        match = CSRF_RE.search(self.text)
        assert match, f"no CSRF token on {self.url}"
        return html.unescape(match.group(1))


class Browser:
    """urllib with an optional cookie jar, a distinctive user agent on every request, no exceptions on 4xx/5xx."""

    def __init__(self, base_url: str, user_agent: str, cookies: bool = True):
        self.base_url = base_url
        self.user_agent = user_agent
        self.jar = http.cookiejar.CookieJar() if cookies else None
        handlers: list[urllib.request.BaseHandler] = []
        if self.jar is not None:
            handlers.append(urllib.request.HTTPCookieProcessor(self.jar))
        self.opener = urllib.request.build_opener(*handlers)

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        json_body: dict | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        data = None
        all_headers = {"User-Agent": self.user_agent, **(headers or {})}
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            data = json.dumps(json_body).encode()
            all_headers["Content-Type"] = "application/json"
        url = self.base_url + path  # always http://127.0.0.1:<port>/...
        req = urllib.request.Request(url, data=data, headers=all_headers, method=method)  # noqa: S310
        try:
            with self.opener.open(req, timeout=HTTP_TIMEOUT) as response:
                return Answer(response.status, dict(response.headers), response.read().decode(), response.geturl())
        except urllib.error.HTTPError as error:
            with error:
                return Answer(error.code, dict(error.headers), error.read().decode(), error.geturl())

    def get(self, path: str, **kwargs) -> Answer:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> Answer:
        # urllib follows a 302/303 after a POST with a GET, as a browser does.
        return self.request("POST", path, **kwargs)


@dataclass
class Service:
    base_url: str
    tmp: Path
    db_path: Path
    access_log: Path
    error_log: Path
    totp_secret: bytes
    guardian_password: str
    process: subprocess.Popen
    wal_seen: bool = False
    snapshots: dict[str, bytes] = field(default_factory=dict)

    def snapshot_files(self) -> None:
        """Keeps the bytes of every file under the temporary directory (SQLite may delete its WAL on close)."""
        for path in self.tmp.rglob("*"):
            if path.is_file():
                key = f"{path.name}@{len(self.snapshots)}"
                self.snapshots[key] = path.read_bytes()

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(process: subprocess.Popen) -> None:
    """Stops a server politely, then firmly."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _run_cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "speakup", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"flask speakup {args[0]} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _totp_secret(cli_output: str) -> bytes:
    match = re.search(r"^totp-uri: (otpauth://\S+)$", cli_output, re.MULTILINE)
    assert match, f"create-user printed no totp-uri:\n{cli_output}"
    secret = urllib.parse.parse_qs(urllib.parse.urlparse(match.group(1)).query)["secret"][0]
    return base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))


def _wait_healthy(base_url: str, process: subprocess.Popen, output: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{output.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(base_url + "/healthz", timeout=2) as response:  # noqa: S310 (http only)
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"gunicorn did not answer /healthz within {STARTUP_SECONDS} s:\n{output.read_text(errors='replace')}")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    port = _free_port()
    db_path = tmp_path / "speakup.sqlite"
    access_log, error_log = tmp_path / "access.log", tmp_path / "error.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith("SPEAKUP_")}
    env.update(
        {
            "SPEAKUP_ENVIRONMENT": "production",
            "SPEAKUP_SECRET_KEY": secrets.token_urlsafe(48),
            "SPEAKUP_TOKEN_PEPPER": secrets.token_urlsafe(48),
            "SPEAKUP_SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
            "SPEAKUP_SESSION_COOKIE_SECURE": "false",  # plain http on the loopback interface
            "SPEAKUP_ARGON2_MEMORY_KIB": "1024",
            "SPEAKUP_ARGON2_ITERATIONS": "1",
            "SPEAKUP_BIND": f"127.0.0.1:{port}",
            "SPEAKUP_WORKERS": "2",
            "SPEAKUP_THREADS": "2",
            "SPEAKUP_ACCESS_LOG": str(access_log),
            "SPEAKUP_ERROR_LOG": str(error_log),
            "PYTHONUNBUFFERED": "1",
        }
    )

    _run_cli(env, "init", "--recovery-key-file", str(tmp_path / "recovery-key.txt"))
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    conn.close()
    password = secrets.token_urlsafe(24)
    created = _run_cli(
        env,
        *("create-user", "--email", GUARDIAN_EMAIL, "--name", GUARDIAN_NAME, "--role", "guardian"),
        stdin=password + "\n",
    )
    totp_secret = _totp_secret(created)

    output = tmp_path / "gunicorn-output.log"  # anything the server prints outside its logs is searched too
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "wsgi:app", "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    running = Service(
        base_url=f"http://127.0.0.1:{port}",
        tmp=tmp_path,
        db_path=db_path,
        access_log=access_log,
        error_log=error_log,
        totp_secret=totp_secret,
        guardian_password=password,
        process=process,
    )
    try:
        _wait_healthy(running.base_url, process, output)
        yield running
    finally:
        running.stop()


def _needles(secret_strings: list[str], access_codes: list[str]) -> dict[str, bytes]:
    """Every form a secret could take in a file, as UTF-8 bytes."""
    needles: dict[str, bytes] = {}
    for value in secret_strings:
        needles[value] = value.encode()
        # The random part alone, in either case, so a marker whose label or domain was cut off is still caught.
        for random_part in re.findall(r"[0-9a-f]{32}", value):
            needles[f"{value} (random part)"] = random_part.encode()
            needles[f"{value} (random part, upper case)"] = random_part.upper().encode()
    for code in access_codes:
        normalised = crypto.normalise_access_code(code)
        for form in {code, normalised, code.lower(), normalised.lower(), code.replace("-", " ")}:
            needles[f"access code {form}"] = form.encode()
    return needles


def _messages(api: Browser, code: str) -> list[tuple[str, str]]:
    back = api.get("/api/v1/follow-up", headers={"Authorization": f"Bearer {code}"})
    assert back.status == 200, back.text
    return [(m["author"], m["body"]) for m in back.json()["messages"]]


@pytest.mark.slow
def test_markers_never_reach_disk_or_logs(service: Service) -> None:
    ua_marker = _marker("ua")
    user_agent = f"SpeakUpLeakTest/1.0 {ua_marker}"
    api = Browser(service.base_url, user_agent, cookies=False)

    # --- A confidential concern through the JSON API -------------------------------------
    a = {
        "what_happened": _marker("api-what"),
        "where": _marker("api-where"),
        "when": _marker("api-when"),
        "name": "Nadia " + _marker("api-name"),
        "contact": _marker("api-contact") + "@example.org",
    }
    raised = api.post("/api/v1/concerns", json_body={**a, "anonymity": "confidential"})
    assert raised.status == 201, raised.text
    assert "Set-Cookie" not in raised.headers
    a_ref, a_code = raised.json()["reference"], raised.json()["access_code"]

    # --- An open concern through the HTML form -------------------------------------------
    b = {
        "what_happened": _marker("form-what"),
        "where": _marker("form-where"),
        "when": _marker("form-when"),
        "name": "Oscar " + _marker("form-name"),
    }
    reporter = Browser(service.base_url, user_agent)
    token = reporter.get("/raise").csrf()
    confirmation = reporter.post("/raise", form={"csrf_token": token, "anonymity": "open", **b})
    assert confirmation.status == 200, confirmation.text
    code_match, ref_match = ACCESS_CODE_RE.search(confirmation.text), REFERENCE_RE.search(confirmation.text)
    # A frightened person pastes their code into the address bar: the 404's path is not logged.
    assert reporter.get("/follow-up/" + a_code).status == 404
    assert code_match and ref_match, confirmation.text
    b_code, b_ref = html.unescape(code_match.group(1)).strip(), html.unescape(ref_match.group(1)).strip()

    # --- The reporter reads back and replies, by API and on the pages --------------------
    for ref, code in ((a_ref, a_code), (b_ref, b_code)):
        back = api.get("/api/v1/follow-up", headers={"Authorization": f"Bearer {code}"})
        assert back.status == 200, back.text
        assert back.json()["reference"] == ref and back.json()["status"] == "received"
        assert "Set-Cookie" not in back.headers

    a_reply = _marker("api-reporter-message")
    a_auth = {"Authorization": f"Bearer {a_code}"}
    sent = api.post("/api/v1/follow-up/messages", json_body={"body": a_reply}, headers=a_auth)
    assert sent.status == 201, sent.text
    assert ("reporter", a_reply) in _messages(api, a_code)

    # The API does not return the concern text; the follow-up pages do. The code is typed as a person might.
    start = reporter.get("/follow-up")
    typed = crypto.normalise_access_code(a_code).lower()
    case_page = reporter.post("/follow-up", form={"csrf_token": start.csrf(), "access_code": typed})
    assert case_page.status == 200 and case_page.url.endswith("/follow-up/case"), case_page.text
    assert a["what_happened"] in case_page.text and a_reply in case_page.text
    signed_out = reporter.post("/follow-up/sign-out", form={"csrf_token": case_page.csrf()})
    assert signed_out.status == 200, signed_out.text

    start = reporter.get("/follow-up")
    assert start.url.endswith("/follow-up"), "signing out did not end the reporter session"
    case_page = reporter.post("/follow-up", form={"csrf_token": start.csrf(), "access_code": b_code})
    assert case_page.status == 200 and case_page.url.endswith("/follow-up/case"), case_page.text
    assert b["what_happened"] in case_page.text
    b_reply = _marker("form-reporter-message")
    replied = reporter.post("/follow-up/case/messages", form={"csrf_token": case_page.csrf(), "body": b_reply})
    assert replied.status == 200 and b_reply in replied.text, replied.text

    # --- The guardian signs in and sees every marker --------------------------------------
    guardian = Browser(service.base_url, user_agent)
    sign_in = guardian.get("/guardian/sign-in")
    queue = guardian.post(
        "/guardian/sign-in",
        form={
            "csrf_token": sign_in.csrf(),
            "email": GUARDIAN_EMAIL,
            "password": service.guardian_password,
            "security_code": crypto.totp_now(service.totp_secret, time.time()),
        },
    )
    assert queue.status == 200 and queue.url.endswith("/guardian/"), queue.text
    assert a_ref in queue.text and b_ref in queue.text

    guardian_messages = {}
    for ref, concern, reply in ((a_ref, a, a_reply), (b_ref, b, b_reply)):
        page = guardian.get(f"/guardian/cases/{ref}")
        assert page.status == 200, page.text
        shown = html.unescape(page.text)
        for key, value in {**concern, "reporter message": reply}.items():
            assert value in shown, f"guardian does not see {key} of {ref}"
        guardian_messages[ref] = _marker(f"guardian-message-{ref}")
        message_form = {"csrf_token": page.csrf(), "body": guardian_messages[ref]}
        sent = guardian.post(f"/guardian/cases/{ref}/messages", form=message_form)
        assert sent.status == 200 and guardian_messages[ref] in html.unescape(sent.text), sent.text

    # --- The reporter reads the guardian's answers -----------------------------------------
    for ref, code in ((a_ref, a_code), (b_ref, b_code)):
        assert ("guardian", guardian_messages[ref]) in _messages(api, code)
    assert guardian_messages[b_ref] in reporter.get("/follow-up/case").text

    # --- Nothing on disk or in the logs --------------------------------------------------
    wal = service.db_path.with_name(service.db_path.name + "-wal")
    service.wal_seen = wal.exists()
    service.snapshot_files()  # while running: the WAL may be checkpointed away at shutdown
    service.stop()
    assert service.process.returncode is not None
    service.snapshot_files()
    assert service.wal_seen, "the database ran without a WAL file, so the WAL was never searched"

    names = {path.split("@")[0] for path in service.snapshots}
    for expected in ("speakup.sqlite", "speakup.sqlite-wal", "access.log", "error.log", "gunicorn-output.log"):
        assert expected in names, f"{expected} was not searched"

    secret_strings = [*a.values(), *b.values(), a_reply, b_reply, *guardian_messages.values(), ua_marker, user_agent]
    needles = _needles(secret_strings, [a_code, b_code])
    leaks = [
        f"{what!r} in {where.split('@')[0]}"
        for where, content in service.snapshots.items()
        for what, needle in needles.items()
        if needle in content
    ]
    assert not leaks, "found in files: " + "; ".join(sorted(set(leaks)))
    # Positive control: what is meant to be stored in clear (the case references) is found, so the search works.
    stored = b"".join(content for where, content in service.snapshots.items() if where.startswith("speakup.sqlite"))
    assert a_ref.encode() in stored and b_ref.encode() in stored

    access_log = service.access_log.read_text()
    assert "POST /api/v1/concerns 201" in access_log, access_log  # the log is really written
    assert "127.0.0.1" not in access_log
    assert "SpeakUpLeakTest" not in access_log
