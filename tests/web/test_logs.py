"""Application logs: one JSON object per line with a request id, and nothing that could identify a reporter.

A full journey runs through the test client with the ``speakup`` logger captured at DEBUG (through the same
JSON handler the app installs), from a distinctive client address and user agent, with unique markers in every
field. Every line must parse as JSON and carry a request id; no marker, name, contact, access code (in any form),
password, security code, address or user agent may appear in any line.
"""

from __future__ import annotations

import html
import io
import json
import logging
import re
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support.factories import gen_staff
from support.html import (
    ACCESS_CODE_RE,
    CSRF_RE,
    REFERENCE_RE,
    VERSION_RE,
    AuthActions,
    csrf_token,
    post_form,
    send_raise_form,
)
from support.present import found

from speakup.crypto import access_codes
from speakup.platform import logs

CLIENT_ADDRESS = "203.0.113.77"

pytestmark = pytest.mark.fresh_app  # some tests add a route of their own to the app


@pytest.fixture
def app_overrides() -> dict[str, object]:
    return {"SUBMIT_RATE_LIMIT": "1000 per hour"}


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    logger = logging.getLogger("speakup")
    handler = logs.make_handler(buffer)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _marker(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex}"


def _client(app: Flask, user_agent: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base.update({"REMOTE_ADDR": CLIENT_ADDRESS, "HTTP_USER_AGENT": user_agent})
    return client


def _case_form(client: FlaskClient, reference: str) -> dict[str, str]:
    page = client.get(f"/guardian/cases/{reference}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    return {"csrf_token": found(CSRF_RE, text), "version": found(VERSION_RE, text)}


def _needles(secrets: list[str], codes: list[str]) -> dict[str, str]:
    needles: dict[str, str] = {}
    for value in secrets:
        needles[value] = value
        for random_part in re.findall(r"[0-9a-f]{32}", value):
            needles[f"{value} (random part)"] = random_part
            needles[f"{value} (random part, upper case)"] = random_part.upper()
    for code in codes:
        normalised = access_codes.normalise_access_code(code)
        for form in {code, normalised, code.lower(), normalised.lower(), code.replace("-", " ")}:
            needles[f"access code {form}"] = form
    return needles


def test_a_full_journey_logs_json_lines_without_anything_identifying(app: Flask, captured: io.StringIO) -> None:
    ua_marker = _marker("ua")
    user_agent = f"SpeakUpLogTest/1.0 {ua_marker}"
    staff_name = "Gwen " + _marker("guardian-name")
    staff = gen_staff(app, email=_marker("guardian") + "@example.org", name=staff_name)
    security_codes: list[str] = []

    boom = _marker("exception-message")

    def explode(thing: str):
        try:
            raise ValueError(boom)
        except ValueError:
            logging.getLogger("speakup.tests").exception("handled and logged")
        raise RuntimeError(boom)

    app.add_url_rule("/test-only/explode/<thing>", view_func=explode)

    # --- Raised through the API (confidential) and the form (open) ----------------------------------
    api = _client(app, user_agent)
    a = {
        "what_happened": _marker("api-what"),
        "where": _marker("api-where"),
        "when": _marker("api-when"),
        "name": "Nadia " + _marker("api-name"),
        "contact": _marker("api-contact") + "@example.org",
    }
    client_id = _marker("client-request-id")
    raised = api.post("/api/v1/concerns", json={**a, "anonymity": "confidential"}, headers={"X-Request-Id": client_id})
    assert raised.status_code == 201, raised.get_json()
    assert raised.headers["X-Request-Id"] and raised.headers["X-Request-Id"] != client_id
    a_ref, a_code = raised.get_json()["reference"], raised.get_json()["access_code"]

    reporter = _client(app, user_agent)
    b = {
        "what_happened": _marker("form-what"),
        "where": _marker("form-where"),
        "when": _marker("form-when"),
        "name": "Oscar " + _marker("form-name"),
    }
    query_marker = _marker("query")
    confirmation = send_raise_form(reporter, f"/raise?q={query_marker}", anonymity="open", **b)
    assert confirmation.status_code == 200
    page = confirmation.get_data(as_text=True)
    b_code = html.unescape(found(ACCESS_CODE_RE, page)).strip()
    b_ref = html.unescape(found(REFERENCE_RE, page)).strip()

    # --- The reporters follow up, by API and on the pages, with a code pasted where it should not be --
    a_reply = _marker("api-reply")
    bearer = {"Authorization": f"Bearer {a_code}"}
    assert api.get("/api/v1/follow-up", headers=bearer).status_code == 200
    assert api.post("/api/v1/follow-up/messages", json={"body": a_reply}, headers=bearer).status_code == 201
    assert api.get("/api/v1/follow-up", headers={"Authorization": "Bearer WRONG-CODE-1234"}).status_code == 401
    assert reporter.get(f"/follow-up/{b_code}").status_code == 404
    assert reporter.get(f"/follow-up?code={b_code}").status_code == 200

    wrong = post_form(reporter, "/follow-up", access_code=b_code[:-2] + "ZZ")
    assert wrong.status_code == 303 and wrong.location == "/follow-up"
    assert reporter.get(wrong.location).status_code == 200  # the mistyped code shown again, kept server-side
    opened = post_form(reporter, "/follow-up", access_code=access_codes.normalise_access_code(b_code).lower())
    assert opened.status_code == 303
    b_reply = _marker("form-reply")
    token = csrf_token(reporter, "/follow-up/case")
    assert reporter.post("/follow-up/case/messages", data={"csrf_token": token, "body": b_reply}).status_code == 303

    # --- The guardian signs in, reads, answers and closes -------------------------------------------
    guardian = _client(app, user_agent)
    code = staff.security_code()
    security_codes.append(code)
    assert AuthActions(guardian).sign_in(staff, code).status_code == 303
    assert guardian.get("/guardian/").status_code == 200
    guardian_messages = []
    for ref in (a_ref, b_ref):
        shown = html.unescape(guardian.get(f"/guardian/cases/{ref}").get_data(as_text=True))
        assert a["what_happened"] in shown or b["what_happened"] in shown
        message = _marker(f"guardian-message-{ref}")
        guardian_messages.append(message)
        sent = guardian.post(f"/guardian/cases/{ref}/messages", data={**_case_form(guardian, ref), "body": message})
        assert sent.status_code == 303
    closing = _marker("closing")
    learning = _marker("learning")
    closed = guardian.post(
        f"/guardian/cases/{a_ref}/close",
        data={**_case_form(guardian, a_ref), "outcome": "resolved", "closing_message": closing, "learning": learning},
    )
    assert closed.status_code == 303, closed.get_data(as_text=True)
    assert guardian.get(f"/test-only/explode/{boom}").status_code == 500
    assert api.get(f"/api/v1/follow-up?x={query_marker}", headers=bearer).get_json()["status"] == "closed"
    assert AuthActions(guardian).sign_out().status_code == 303

    # --- Every line is JSON with a request id -------------------------------------------------------
    lines = captured.getvalue().splitlines()
    assert len(lines) > 20
    entries = []
    for line in lines:
        entry = json.loads(line)
        assert {"time", "level", "logger", "message", "request_id", "method", "route"} <= entry.keys(), entry
        assert isinstance(entry["request_id"], str) and len(entry["request_id"]) >= 16, entry
        entries.append(entry)

    completions = [e for e in entries if e["logger"] == "speakup.requests"]
    routes = {(e["method"], e["route"], e["status"]) for e in completions}
    assert ("GET", "/guardian/cases/<address>", 200) in routes
    assert ("POST", "/api/v1/concerns", 201) in routes
    assert ("GET", None, 404) in routes  # the pasted code: no route, no path
    assert all(isinstance(e["duration_ms"], int | float) for e in completions)
    ids = [e["request_id"] for e in completions]
    assert len(set(ids)) == len(ids), "each request has its own id"
    assert raised.headers["X-Request-Id"] in ids

    failures = [e for e in entries if e.get("exception")]
    assert {e["exception"] for e in failures} >= {"ValueError"}
    assert any(e["route"] == "/test-only/explode/<thing>" and e["level"] == "ERROR" for e in entries)
    assert any("RuntimeError" in e["message"] for e in entries)

    # --- Nothing identifying in any line ------------------------------------------------------------
    secrets = [
        *a.values(),
        *b.values(),
        a_reply,
        b_reply,
        *guardian_messages,
        closing,
        learning,
        boom,
        query_marker,
        client_id,
        staff_name,
        staff.email,
        staff.password,
        CLIENT_ADDRESS,
        ua_marker,
        user_agent,
        "SpeakUpLogTest",
    ]
    text = captured.getvalue()
    leaks = [what for what, needle in _needles(secrets, [a_code, b_code]).items() if needle in text]
    leaks += [f"security code {c}" for c in security_codes if re.search(rf"(?<!\d){c}(?!\d)", text)]
    assert not leaks, "found in the logs: " + "; ".join(sorted(set(leaks)))


def test_lines_outside_a_request_are_json_too(app: Flask, captured: io.StringIO) -> None:
    with app.app_context():
        logging.getLogger("speakup.tests").warning("outside %s", "a request")
    entry = json.loads(captured.getvalue().splitlines()[-1])
    assert entry["message"] == "outside a request" and entry["request_id"] is None and entry["level"] == "WARNING"


def test_werkzeug_request_lines_lose_address_query_and_unmatched_paths(client: FlaskClient) -> None:
    assert client.get("/follow-up/ABCD-EFGH?code=WXYZ").status_code == 404  # the request the line is about
    record = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '%s - - [26/Nov/2026 10:00:00] "%s" %s %s',
        (CLIENT_ADDRESS, "GET /follow-up/ABCD-EFGH?code=WXYZ HTTP/1.1", "404", "-"),
        None,
    )
    for rule in (logs.DropClientAddress(), logs.DropQueryAndUnmatchedPath()):
        rule.filter(record)
    message = record.getMessage()
    assert message == '- - - [26/Nov/2026 10:00:00] "GET [path not logged] HTTP/1.1" 404 -'

    assert client.get("/raise?name=Nadia").status_code == 200
    record = logging.LogRecord(
        "werkzeug", logging.INFO, __file__, 1, '"GET /raise?name=Nadia HTTP/1.1" 200 -', (), None
    )
    logs.DropQueryAndUnmatchedPath().filter(record)
    assert record.getMessage() == '"GET /raise HTTP/1.1" 200 -'

    # A file of the pages', served by WhiteNoise before the app saw it: its route; anything else the app never saw
    # is not logged.
    for line, status, expected in (
        ("GET /assets/speakup.0123abcd.css HTTP/1.1", "200", "GET /assets/<file> HTTP/1.1"),
        ("GET /assets/SOMETHING-PASTED HTTP/1.1", "404", "GET [path not logged] HTTP/1.1"),
        ("GET /SOMETHING-PASTED HTTP/1.1", "200", "GET [path not logged] HTTP/1.1"),
        ('GET /a "quoted" SOMETHING-PASTED HTTP/1.1', "400", "GET [path not logged] HTTP/1.1"),
    ):
        record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, f'"{line}" {status} -', (), None)
        logs.DropQueryAndUnmatchedPath().filter(record)
        assert record.getMessage() == f'"{expected}" {status} -'


# --- The route, never the path: a redirect, a refusal or a failure says which page, not what was typed ------------


def _route_requests(app: Flask, pasted: str) -> list[tuple[str, str, int, str]]:
    """Requests whose path carries ``pasted``: method, path, the status each answers, what a log line names."""

    def fails(thing: str) -> str:
        return str(1 / 0)

    app.add_url_rule("/test-only/fails/<thing>", "fails", view_func=fails)
    return [
        ("GET", f"/guardian/cases/{pasted}", 302, "/guardian/cases/<address>"),  # not signed in: to sign-in
        ("GET", f"/follow-up/{pasted}", 404, "[path not logged]"),
        # No CSRF token: refused, to the form's start.
        ("POST", f"/guardian/cases/{pasted}/messages", 303, "/guardian/cases/<address>/messages"),
        ("GET", f"/test-only/fails/{pasted}", 500, "/test-only/fails/<thing>"),
    ]


def test_the_apps_lines_name_the_route_of_a_redirect_never_the_pasted_path(app: Flask, captured: io.StringIO) -> None:
    pasted = _marker("pasted-into-the-address-bar")
    client = _client(app, "SpeakUpLogTest/1.0")
    requests = _route_requests(app, pasted)
    for method, path, status, _route in requests:
        assert client.open(path + "?q=" + pasted, method=method).status_code == status, path
    text = captured.getvalue()
    assert pasted not in text and pasted.split("-")[-1] not in text
    completions = [json.loads(line) for line in text.splitlines() if '"speakup.requests"' in line]
    assert [(e["route"], e["status"]) for e in completions] == [
        (route if status != 404 else None, status) for _method, _path, status, route in requests
    ]


def test_the_development_servers_request_line_names_the_route(app: Flask) -> None:
    """werkzeug logs its request line after the app answered, on the thread that answered: the route the app
    matched there replaces the path (and the query), coloured or not."""
    pasted = _marker("pasted")
    client = _client(app, "SpeakUpLogTest/1.0")
    for method, path, status, route in _route_requests(app, pasted):
        for styled in (False, True):
            assert client.open(path, method=method).status_code == status
            line = f"{method} {path}?code={pasted} HTTP/1.1"
            if styled:
                line = f"\x1b[32m{line}\x1b[0m"
            record = logging.LogRecord(
                "werkzeug",
                logging.INFO,
                __file__,
                1,
                '%s - - [26/Nov/2026 10:00:00] "%s" %s %s',
                (CLIENT_ADDRESS, line, str(status), "-"),
                None,
            )
            for rule in (logs.DropClientAddress(), logs.DropQueryAndUnmatchedPath()):
                rule.filter(record)
            expected = f'- - - [26/Nov/2026 10:00:00] "{method} {route} HTTP/1.1" {status} -'
            assert record.getMessage() == expected


def test_gunicorns_access_log_names_the_route_never_the_pasted_path(app: Flask, tmp_path) -> None:
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config
    from werkzeug.test import EnvironBuilder

    from speakup.platform.gunicorn_logging import AccessLogger

    config = Config()
    config.set("accesslog", str(tmp_path / "access.log"))
    access_log = AccessLogger(config)
    pasted = _marker("pasted")
    requests = _route_requests(app, pasted)
    for method, path, status, _route in requests:
        environ = EnvironBuilder(path=path, method=method, query_string=f"q={pasted}").get_environ()
        answered: list[str] = []
        b"".join(app(environ, lambda line, _headers, _exc_info=None, to=answered: to.append(line)))
        assert answered[0].startswith(str(status)), path
        access_log.access(SimpleNamespace(status=answered[0], headers=[]), None, environ, timedelta(milliseconds=3))
    lines = [json.loads(line) for line in (tmp_path / "access.log").read_text().splitlines()]
    assert pasted not in json.dumps(lines)
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        (method, route, status) for method, _path, status, route in requests
    ]


def test_gunicorns_own_lines_are_json_like_the_apps(tmp_path) -> None:
    """Issue 27, point 3: a worker timing out or failing to boot is an ERROR line an alert rule on "level" catches."""
    from gunicorn.config import Config

    from speakup.platform.gunicorn_logging import AccessLogger

    config = Config()
    config.set("errorlog", str(tmp_path / "error.log"))
    logger = AccessLogger(config)
    logger.info("Booting worker with pid: %s", 1234)
    logger.critical("WORKER TIMEOUT (pid:%s)", 1234)
    lines = [json.loads(line) for line in (tmp_path / "error.log").read_text().splitlines()]
    assert [(line["level"], line["logger"], line["message"]) for line in lines] == [
        ("INFO", "gunicorn.error", "Booting worker with pid: 1234"),
        ("CRITICAL", "gunicorn.error", "WORKER TIMEOUT (pid:1234)"),
    ]
