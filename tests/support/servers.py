"""Real servers for the tests that run the service as production does: gunicorn in production mode on a free
loopback port, driven over HTTP by a small urllib client. Used by the end-to-end, scale-out, concurrency and
fault tests, so each says only what differs."""

from __future__ import annotations

import base64
import html
import http.cookiejar
import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from speakup.crypto import totp
from support import processes
from support.html import CSRF_RE
from support.processes import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 20
HTTP_TIMEOUT = 10


def unavailable(message: str) -> None:
    """Something a server test needs is missing: a failure where the suite promises the databases (CI sets
    SPEAKUP_TEST_DATABASE_URL), otherwise a skip whose reason pytest's summary shows."""
    if os.environ.get("SPEAKUP_TEST_DATABASE_URL") or os.environ.get("SPEAKUP_SCALE_OUT_DATABASE_URL"):
        pytest.fail(message)
    pytest.skip(message + " (set SPEAKUP_TEST_DATABASE_URL to make this a failure)")


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
        raw: tuple[bytes, str] | None = None,
    ) -> Answer:
        """``raw`` is a body sent as it is, with its content type (a multipart upload, malformed JSON)."""
        data = None
        all_headers = {"User-Agent": self.user_agent, **(headers or {})}
        if raw is not None:
            data, all_headers["Content-Type"] = raw
        elif form is not None:
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

    def get(self, path: str, **kwargs: Any) -> Answer:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Answer:
        # urllib follows a 302/303 after a POST with a GET, as a browser does.
        return self.request("POST", path, **kwargs)

    def sent_form(self, path: str, form: dict[str, str]) -> tuple[Answer, Answer]:
        """A form sent as a browser sends it, with its cookies: the POST's own answer (a 303 for every form, issue
        24), not followed, then the page its Location leads to."""
        handlers: list[urllib.request.BaseHandler] = [_NotFollowed()]
        if self.jar is not None:
            handlers.append(urllib.request.HTTPCookieProcessor(self.jar))
        opener = urllib.request.build_opener(*handlers)
        headers = {"User-Agent": self.user_agent, "Content-Type": "application/x-www-form-urlencoded"}
        data = urllib.parse.urlencode(form).encode()
        req = urllib.request.Request(self.base_url + path, data=data, headers=headers, method="POST")  # noqa: S310
        try:
            with opener.open(req, timeout=HTTP_TIMEOUT) as response:
                answer = Answer(response.status, dict(response.headers), response.read().decode(), response.geturl())
        except urllib.error.HTTPError as error:
            with error:
                answer = Answer(error.code, dict(error.headers), error.read().decode(), error.geturl())
        if answer.status != 303:
            return answer, answer
        location = urllib.parse.urlsplit(answer.headers["Location"])
        return answer, self.get(location._replace(scheme="", netloc="", fragment="").geturl())


class _NotFollowed(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the redirect itself is the answer looked at


def fresh_postgres_database(suffix: str) -> str:
    """A PostgreSQL database named after SPEAKUP_TEST_DATABASE_URL's with ``suffix`` added, created when missing and
    emptied: a server test's own, so it never shares the suite's."""
    suite_url = os.environ["SPEAKUP_TEST_DATABASE_URL"]
    base, _, name = suite_url.rpartition("/")
    name = name.split("?")[0] + suffix
    processes.empty_postgres_database(suite_url, name)
    return f"{base}/{name}"


def production_env(database_url: str, **settings: str) -> dict[str, str]:
    """The shared production-mode environment with a cheap Argon2 (its real cost is the benchmark's business)."""
    return processes.production_env(database_url, **{"ARGON2_MEMORY_KIB": "1024", "ARGON2_ITERATIONS": "1", **settings})


def run_cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
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


def totp_secret_from(cli_output: str) -> bytes:
    match = re.search(r"^totp-uri: (otpauth://\S+)$", cli_output, re.MULTILINE)
    assert match, "create-user printed no totp-uri"
    secret = urllib.parse.parse_qs(urllib.parse.urlparse(match.group(1)).query)["secret"][0]
    return base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))


@dataclass
class Staff:
    email: str
    password: str
    totp_secret: bytes

    def __repr__(self) -> str:  # never a password or secret in a failure report
        return f"Staff({self.email!r})"


def init_installation(env: dict[str, str], key_file: Path) -> Path:
    """`speakup init`, then pins the roster-root it prints in ``env`` as an operator pins SPEAKUP_ROSTER_ROOT
    (production serves nothing without it). Returns the recovery key file."""
    output = run_cli(env, "init", "--recovery-key-file", str(key_file))
    match = re.search(r"^roster-root: ([0-9a-f-]+)$", output, re.MULTILINE)
    assert match, f"init printed no roster-root:\n{output}"
    env["SPEAKUP_ROSTER_ROOT"] = match.group(1)
    return key_file


def create_guardian(env: dict[str, str], email: str, name: str, key_file: Path | None = None) -> Staff:
    """A guardian made on the command line, approved with the organisation key when ``key_file`` is given."""
    password = secrets.token_urlsafe(24)
    approve = ("--recovery-key-file", str(key_file)) if key_file else ()
    created = run_cli(
        env, *("create-user", "--email", email, "--name", name, "--role", "guardian", *approve), stdin=password + "\n"
    )
    return Staff(email, password, totp_secret_from(created))


def sign_in(browser: Browser, staff: Staff) -> Answer:
    """Signs in with this moment's security code (a code is refused the second time in its step)."""
    form = browser.get("/guardian/sign-in")
    return browser.post(
        "/guardian/sign-in",
        form={
            "csrf_token": form.csrf(),
            "email": staff.email,
            "password": staff.password,
            "security_code": totp.totp_now(staff.totp_secret, time.time()),
        },
    )


def enrolment_code_waiting(secret: bytes) -> str:
    """The security code to finish enrolling with on a server in another process (gunicorn), whose clock a test
    cannot set: the previous step's, as support/factories.py's enrolment_code(), but in a step's last seconds this
    waits for the next step instead of setting the clock on."""
    if time.time() % totp.TOTP_STEP > totp.TOTP_STEP - 5:
        time.sleep(totp.TOTP_STEP - time.time() % totp.TOTP_STEP + 0.1)
    return totp.totp_now(secret, time.time() - totp.TOTP_STEP)


def wait_healthy(base_url: str, process: subprocess.Popen, output: Path) -> None:
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


@dataclass
class Server:
    """One gunicorn: its master process, address and files (access and error logs, and whatever it printed)."""

    process: subprocess.Popen
    base_url: str
    access_log: Path
    error_log: Path
    output: Path

    def stop(self) -> None:
        stop_process(self.process)


def start_gunicorn(env: dict[str, str], logs: Path, name: str = "gunicorn") -> Server:
    """Starts gunicorn with ``env`` on a free loopback port, its files in ``logs``; returns once /healthz answers."""
    port = free_port()
    access_log, error_log, output = (logs / f"{name}-{kind}.log" for kind in ("access", "error", "output"))
    server_env = {
        **env,
        "SPEAKUP_BIND": f"127.0.0.1:{port}",
        "SPEAKUP_ACCESS_LOG": str(access_log),
        "SPEAKUP_ERROR_LOG": str(error_log),
    }
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "wsgi:app", "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env=server_env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", access_log, error_log, output)
    try:
        wait_healthy(server.base_url, server.process, server.output)
    except BaseException:
        server.stop()
        raise
    return server


LOCAL_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"  # where a database is made without one


def server_database_url(suffix: str = "_scale_out") -> str:
    """A server test's own PostgreSQL database: SPEAKUP<SUFFIX>_DATABASE_URL when set, else the suite's database
    name (or speakup, beside the local postgres database) with ``suffix`` added; created when it is missing."""
    explicit = os.environ.get("SPEAKUP" + suffix.upper() + "_DATABASE_URL")
    if explicit:
        return explicit
    suite_url = os.environ.get("SPEAKUP_TEST_DATABASE_URL") or LOCAL_DATABASE_URL
    base, _, suite_name = suite_url.rpartition("/")
    suite_name = suite_name.split("?")[0]
    name = "speakup" + suffix if suite_url == LOCAL_DATABASE_URL else (suite_name or "postgres") + suffix
    try:
        with psycopg.connect(suite_url, autocommit=True, connect_timeout=5) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as error:
        unavailable(f"this server test needs PostgreSQL at {suite_url}: {error}")
    processes.made(suite_url, name)
    return f"{base}/{name}"


def empty_server_database(url: str) -> None:
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
            conn.execute("CREATE SCHEMA public")
    except psycopg.Error as error:
        unavailable(f"this server test needs PostgreSQL database {url}: {error}")
