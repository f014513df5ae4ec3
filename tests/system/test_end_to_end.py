"""End to end through the real server: nothing a person wrote, and no access code, ever reaches a file.

Concerns carrying unique marker strings go in over real HTTP to gunicorn (the JSON API and the HTML form);
the person who raised them and the guardian both read every marker back; then the raw bytes of the SQLite
database, its WAL and shared-memory files and every log are searched for the markers, the names, the contact
details and the access codes. None may be there. The access log must not hold the client address or the
user agent either.
"""

from __future__ import annotations

import html
import json
import re
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from support.html import ACCESS_CODE_RE, REFERENCE_RE
from support.servers import (
    Browser,
    Server,
    Staff,
    create_guardian,
    init_installation,
    production_env,
    sign_in,
    start_gunicorn,
)

from speakup.crypto import access_codes

# gunicorn's access log: the app's log keys, and the request's method, path (no query), status and duration.
ACCESS_LOG_KEYS = {"time", "level", "logger", "message", "request_id", "method", "path", "status", "duration_ms"}
GUARDIAN_EMAIL = "e2e-guardian@example.org"
GUARDIAN_NAME = "End To End Guardian"


def _marker(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex}"


@dataclass
class Service:
    tmp: Path
    db_path: Path
    server: Server
    guardian: Staff
    wal_seen: bool = False
    snapshots: dict[str, bytes] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def snapshot_files(self) -> None:
        """Keeps the bytes of every file under the temporary directory (SQLite may delete its WAL on close)."""
        for path in self.tmp.rglob("*"):
            if path.is_file():
                key = f"{path.name}@{len(self.snapshots)}"
                self.snapshots[key] = path.read_bytes()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    db_path = tmp_path / "speakup.sqlite"
    env = production_env(f"sqlite:///{db_path}", workers="2", threads="2")
    key_file = init_installation(env, tmp_path / "recovery-key.txt")
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    conn.close()
    guardian = create_guardian(env, GUARDIAN_EMAIL, GUARDIAN_NAME, key_file)
    # Its logs and anything it prints land under tmp_path, where the leak search reads every file.
    server = start_gunicorn(env, tmp_path)
    try:
        yield Service(tmp_path, db_path, server, guardian)
    finally:
        server.stop()


def _needles(secret_strings: list[str], codes: list[str]) -> dict[str, bytes]:
    """Every form a secret could take in a file, as UTF-8 bytes."""
    needles: dict[str, bytes] = {}
    for value in secret_strings:
        needles[value] = value.encode()
        # The random part alone, in either case, so a marker whose label or domain was cut off is still caught.
        for random_part in re.findall(r"[0-9a-f]{32}", value):
            needles[f"{value} (random part)"] = random_part.encode()
            needles[f"{value} (random part, upper case)"] = random_part.upper().encode()
    for code in codes:
        normalised = access_codes.normalise_access_code(code)
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
    assert confirmation.status == 200 and confirmation.url.endswith("/raise/sent"), confirmation.status
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
    typed = access_codes.normalise_access_code(a_code).lower()
    case_page = reporter.post("/follow-up", form={"csrf_token": start.csrf(), "access_code": typed})
    assert case_page.status == 200 and case_page.url.endswith("/follow-up/case"), case_page.text
    assert a["what_happened"] in case_page.text and a_reply in case_page.text
    signed_out = reporter.post("/follow-up/sign-out", form={"csrf_token": case_page.csrf()})
    assert signed_out.status == 200 and signed_out.url.endswith("/follow-up/signed-out"), signed_out.text

    start = reporter.get("/follow-up")
    assert start.url.endswith("/follow-up"), "signing out did not end the reporter session"
    case_page = reporter.post("/follow-up", form={"csrf_token": start.csrf(), "access_code": b_code})
    assert case_page.status == 200 and case_page.url.endswith("/follow-up/case"), case_page.text
    assert b["what_happened"] in case_page.text
    b_reply = _marker("form-reporter-message")
    replied = reporter.post("/follow-up/case/messages", form={"csrf_token": case_page.csrf(), "body": b_reply})
    assert (
        replied.status == 200 and replied.url.split("#")[0].endswith("/follow-up/case") and b_reply in replied.text
    ), replied.text

    # --- The guardian signs in and sees every marker --------------------------------------
    guardian = Browser(service.base_url, user_agent)
    queue = sign_in(guardian, service.guardian)
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
        on_case_page = re.fullmatch(r"/guardian/cases/[^/]+", urlsplit(sent.url).path) and f"Case {ref}" in sent.text
        assert sent.status == 200 and on_case_page, sent.status
        assert guardian_messages[ref] in html.unescape(sent.text), sent.text

    # --- The reporter reads the guardian's answers -----------------------------------------
    for ref, code in ((a_ref, a_code), (b_ref, b_code)):
        assert ("guardian", guardian_messages[ref]) in _messages(api, code)
    assert guardian_messages[b_ref] in reporter.get("/follow-up/case").text

    # --- Nothing on disk or in the logs --------------------------------------------------
    wal = service.db_path.with_name(service.db_path.name + "-wal")
    service.wal_seen = wal.exists()
    service.snapshot_files()  # while running: the WAL may be checkpointed away at shutdown
    service.server.stop()
    assert service.server.process.returncode is not None
    service.snapshot_files()
    assert service.wal_seen, "the database ran without a WAL file, so the WAL was never searched"

    names = {path.split("@")[0] for path in service.snapshots}
    for expected in (
        "speakup.sqlite",
        "speakup.sqlite-wal",
        "gunicorn-access.log",
        "gunicorn-error.log",
        "gunicorn-output.log",
    ):
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

    access_log = service.server.access_log.read_text()
    lines = [json.loads(line) for line in access_log.splitlines()]  # one JSON object a line, like the app's log
    assert all(line["logger"] == "gunicorn.access" and line.keys() >= ACCESS_LOG_KEYS for line in lines), lines
    requests = [(line["method"], line["path"], line["status"]) for line in lines]
    assert ("POST", "/api/v1/concerns", 201) in requests, access_log  # the log is really written
    assert ("GET", "[path not logged]", 404) in requests  # the pasted access code's path
    assert "127.0.0.1" not in access_log
    assert "SpeakUpLeakTest" not in access_log
