"""The W3C Nu HTML Checker (npm's vnu-jar, run with Java) finds no error in any page the service writes, with its
forms filled in and failed: the reporter's journey, the guardian's and administrator's pages, enrolment, and the
error pages. Pages are fetched in process, written to files and checked in one run of the checker."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete
from support.factories import enrolment_code, enrolment_path, gen_concern, gen_staff
from support.html import (
    ACCESS_CODE_RE,
    SAFETY_CODE_RE,
    TOTP_SECRET_RE,
    VERSION_RE,
    AuthActions,
    post_form,
    send_raise_form,
    walk_to,
)
from support.present import found
from werkzeug.test import TestResponse

from speakup.platform.models import ReporterSession, db

CASE_PAGE = r"/guardian/cases/[^/]+"  # a case's page, by whichever address the pages link it
ROOT = Path(__file__).resolve().parents[2]
VNU_JAR = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


@pytest.fixture
def app_overrides() -> dict[str, object]:
    return {"SUBMIT_RATE_LIMIT": "1000 per minute", "ACCESS_CODE_RATE_LIMIT": "1000 per minute"}


def _followed(client: FlaskClient, sent, to: str):
    """The page a form's redirect leads to (every POST is answered with a 303), at a path ``to`` matches: the page
    that is checked."""
    assert sent.status_code == 303, sent.status_code
    location = urllib.parse.urlsplit(sent.headers["Location"])
    assert re.fullmatch(to, location.path), location.path
    return client.get(location._replace(fragment="").geturl())


def _reporter_pages(app: Flask) -> dict[str, TestResponse]:
    client = app.test_client()
    pages = {
        name: client.get(path)
        for name, path in (
            ("home", "/"),
            ("raise", "/raise"),
            ("other-ways", "/other-ways"),
            ("accessibility", "/accessibility"),
            ("privacy", "/privacy"),
        )
    }
    pages["raise-errors"] = _followed(
        client, post_form(client, "/raise", what_happened="", anonymity="confidential"), "/raise"
    )
    checked = post_form(
        client,
        "/raise",
        step="check",
        what_happened="The rota is unsafe.",
        anonymity="confidential",
        name="Sam",
        age_band="35_44",
    )
    pages["check-answers"] = _followed(client, checked, "/raise/check")
    pages["raise-changing"] = client.get("/raise")  # "Change": the form with every answer kept
    pages["confirmation"] = send_raise_form(client, what_happened="The rota is unsafe.", anonymity="anonymous")
    pages["hide-code"] = client.get("/raise/sent/hide")
    saved = post_form(client, "/raise/sent/hide", "/raise/sent")
    pages["code-saved"] = client.get(saved.headers["Location"])
    pages["follow-up"] = client.get("/follow-up")
    typo = post_form(client, "/follow-up", access_code="ABCD-EFGH")
    pages["follow-up-typo"] = _followed(client, typo, "/follow-up")
    raised = gen_concern(client, anonymity="open", name="Sam", where="Ward 2")
    reporter = app.test_client()
    post_form(reporter, "/follow-up", access_code=raised["access_code"])
    pages["follow-up-case"] = reporter.get("/follow-up/case")
    empty_reply = post_form(reporter, "/follow-up/case", "/follow-up/case/messages", body="")
    pages["follow-up-reply-error"] = _followed(reporter, empty_reply, "/follow-up/case")
    return pages


def _staff_pages(app: Flask) -> dict[str, TestResponse]:
    guardian = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    admin = gen_staff(app, email="ada@example.org", role="admin", name="Ada Admin")
    client = app.test_client()
    auth = AuthActions(client)
    pages = {"sign-in": client.get("/guardian/sign-in")}
    failed = post_form(client, "/guardian/sign-in", email="gita@example.org", password="wrong")
    pages["sign-in-error"] = _followed(client, failed, "/guardian/sign-in")
    assert auth.sign_in(guardian).status_code == 303
    raised = gen_concern(client, anonymity="confidential", name="Priya", contact="Ext 4471")
    reference = raised["reference"]
    walk_to(client, reference, "acknowledged", "in_progress")
    url = f"/guardian/cases/{reference}"
    pages["queue"] = client.get("/guardian/")
    pages["case"] = client.get(url)
    assert post_form(client, url, f"{url}/messages", body="Could you say which ward?").status_code == 303
    reporter = app.test_client()
    post_form(reporter, "/follow-up", access_code=raised["access_code"])
    pages["follow-up-new-messages"] = reporter.get("/follow-up/case")  # the banner, and the message marked New
    assert 'id="new-messages"' in pages["follow-up-new-messages"].get_data(as_text=True)
    version = found(VERSION_RE, pages["case"].get_data(as_text=True))
    refused = post_form(client, url, f"{url}/close", version=version, outcome="", closing_message="")
    pages["case-error"] = _followed(client, refused, CASE_PAGE)
    pages["record"] = client.get("/guardian/record")
    pages["record-error"] = _followed(
        client, post_form(client, "/guardian/record", channel="phone", what_happened=""), "/guardian/record"
    )
    recorded = post_form(
        client, "/guardian/record", channel="phone", what_happened="Told by phone.", anonymity="anonymous",
        give_access_code="yes",
    )  # fmt: skip
    pages["recorded"] = _followed(client, recorded, "/guardian/record/done")
    assert ACCESS_CODE_RE.search(pages["recorded"].get_data(as_text=True)), "the recorded page shows no code"
    for name, path in (
        ("team", "/guardian/team"),
        ("board", "/guardian/board"),
        ("reports", "/guardian/reports"),
        ("share-all", "/guardian/share"),
        ("password", "/guardian/account/password"),
        ("not-found", "/no-such-page"),
    ):
        pages[name] = client.get(path)
    walk_to(client, reference, "closed")
    reporter = app.test_client()
    post_form(reporter, "/follow-up", access_code=raised["access_code"])
    pages["follow-up-case-closed"] = reporter.get("/follow-up/case")
    unanswered = post_form(reporter, "/follow-up/case", "/follow-up/case/feedback", speak_up_again="")
    pages["follow-up-after-closing-error"] = _followed(reporter, unanswered, "/follow-up/case")
    signed_out = post_form(reporter, "/follow-up/case", "/follow-up/sign-out")
    pages["signed-out"] = _followed(reporter, signed_out, "/follow-up/signed-out")
    # The case page's own time-out, once its session has ended (as the page's script sends it at the end).
    timing_out = app.test_client()
    post_form(timing_out, "/follow-up", access_code=raised["access_code"])
    token = found(r'name="csrf_token" value="([^"]+)"', timing_out.get("/follow-up/case").get_data(as_text=True))
    with app.app_context():
        db.session.execute(delete(ReporterSession))
        db.session.commit()
    timed_out = timing_out.post("/follow-up/time-out", data={"csrf_token": token})
    pages["timed-out"] = _followed(timing_out, timed_out, "/follow-up/signed-out")
    assert "You have been signed out" in pages["timed-out"].get_data(as_text=True)

    staff = app.test_client()
    assert AuthActions(staff).sign_in(admin).status_code == 303
    pages["admin"] = staff.get("/admin/")
    pages["forbidden"] = staff.get("/guardian/board")
    pages["invite"] = staff.get("/admin/invite")
    pages["invite-error"] = _followed(
        staff, post_form(staff, "/admin/invite", name="", email="not an address", role="guardian"), "/admin/invite"
    )
    invited = post_form(staff, "/admin/invite", name="Bea Guardian", email="bea@example.org", role="guardian")
    pages["enrolment-link"] = link = _followed(staff, invited, "/admin/enrolment-link")
    newcomer = app.test_client()
    path = enrolment_path(link.get_data(as_text=True))
    pages["enrol"] = enrol_page = newcomer.get(path)
    secret = found(TOTP_SECRET_RE, enrol_page.get_data(as_text=True))
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)["token"][0]
    form = {"token": token, "totp_secret": secret}
    mismatched = post_form(newcomer, path, "/enrol", **form, password="one long password", confirm="another")
    pages["enrol-error"] = _followed(newcomer, mismatched, "/enrol")
    code = enrolment_code(base64.b32decode(secret + "=" * (-len(secret) % 8)))
    password = "a long enough password for Bea"
    done = post_form(newcomer, "/enrol", **form, password=password, confirm=password, security_code=code)
    pages["enrol-done"] = _followed(newcomer, done, "/enrol/done")
    assert SAFETY_CODE_RE.search(pages["enrol-done"].get_data(as_text=True)), "enrolling showed no safety code"
    return pages


def test_every_page_is_valid_html(app: Flask, tmp_path: Path):
    java = shutil.which("java")
    assert java, "the markup check needs Java: apt-get install -y default-jre-headless"
    assert VNU_JAR.exists(), "the Nu HTML Checker is missing: run npm ci"
    pages = {**_reporter_pages(app), **_staff_pages(app)}
    files = []
    for name, response in pages.items():
        assert response.mimetype == "text/html", name
        if name.endswith(("-error", "-errors", "-typo")):  # the failed form's page, with its messages
            assert "error-summary" in response.get_data(as_text=True), name
        path = tmp_path / f"{name}.html"
        path.write_text(response.get_data(as_text=True))
        files.append(str(path))
    assert len(files) >= 34
    checked = subprocess.run(
        [java, "-jar", str(VNU_JAR), "--errors-only", "--format", "json", *files],
        capture_output=True,
        text=True,
        timeout=300,
    )
    messages = json.loads(checked.stderr or '{"messages": []}')["messages"]
    errors = [
        f"{Path(m.get('url', '')).name}:{m.get('lastLine')}: {m.get('message')} [{m.get('extract', '').strip()}]"
        for m in messages
        if m.get("type") == "error"
    ]
    assert errors == [], "\n".join(errors)
