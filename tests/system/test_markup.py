"""The W3C Nu HTML Checker (npm's vnu-jar, run with Java) finds no error in any page the service writes, with its
forms filled in and failed: the reporter's journey, the guardian's and administrator's pages, enrolment, and the
error pages (issue 16). Pages are fetched in process, written to files and checked in one run of the checker."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from flask import Flask
from support.factories import enrolment_path, gen_concern, gen_staff
from support.html import VERSION_RE, AuthActions, post_form, send_raise_form, walk_to

ROOT = Path(__file__).resolve().parents[2]
VNU_JAR = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


@pytest.fixture
def app_overrides() -> dict[str, object]:
    return {"SUBMIT_RATE_LIMIT": "1000 per minute", "ACCESS_CODE_RATE_LIMIT": "1000 per minute"}


def _reporter_pages(app: Flask) -> dict[str, str]:
    client = app.test_client()
    pages = {
        name: client.get(path) for name, path in (("home", "/"), ("raise", "/raise"), ("other-ways", "/other-ways"))
    }
    pages["raise-errors"] = post_form(client, "/raise", what_happened="", anonymity="confidential")
    pages["confirmation"] = send_raise_form(client, what_happened="The rota is unsafe.", anonymity="anonymous")
    saved = post_form(client, "/raise/sent")
    pages["code-saved"] = client.get(saved.headers["Location"])
    pages["follow-up"] = client.get("/follow-up")
    pages["follow-up-typo"] = post_form(client, "/follow-up", access_code="ABCD-EFGH")
    raised = gen_concern(client, anonymity="open", name="Sam", where="Ward 2")
    reporter = app.test_client()
    post_form(reporter, "/follow-up", access_code=raised["access_code"])
    pages["follow-up-case"] = reporter.get("/follow-up/case")
    pages["follow-up-reply-error"] = post_form(reporter, "/follow-up/case", "/follow-up/case/messages", body="")
    return pages


def _staff_pages(app: Flask) -> dict[str, str]:
    guardian = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    admin = gen_staff(app, email="ada@example.org", role="admin", name="Ada Admin")
    client = app.test_client()
    auth = AuthActions(client)
    pages = {"sign-in": client.get("/guardian/sign-in")}
    pages["sign-in-error"] = post_form(client, "/guardian/sign-in", email="gita@example.org", password="wrong")
    assert auth.sign_in(guardian).status_code == 302
    raised = gen_concern(client, anonymity="confidential", name="Priya", contact="Ext 4471")
    reference = raised["reference"]
    walk_to(client, reference, "acknowledged", "in_progress")
    url = f"/guardian/cases/{reference}"
    pages["queue"] = client.get("/guardian/")
    pages["case"] = client.get(url)
    version = VERSION_RE.search(pages["case"].get_data(as_text=True)).group(1)
    pages["case-error"] = post_form(client, url, f"{url}/close", version=version, outcome="", closing_message="")
    pages["record"] = client.get("/guardian/record")
    pages["recorded"] = post_form(
        client, "/guardian/record", channel="by_phone", what_happened="Told by phone.", anonymity="anonymous",
        give_code="yes",
    )  # fmt: skip
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
    pages["signed-out"] = post_form(reporter, "/follow-up/case", "/follow-up/sign-out")

    staff = app.test_client()
    assert AuthActions(staff).sign_in(admin).status_code == 302
    pages["admin"] = staff.get("/admin/")
    pages["forbidden"] = staff.get("/guardian/board")
    pages["invite"] = staff.get("/admin/invite")
    link = post_form(staff, "/admin/invite", name="Bea Guardian", email="bea@example.org", role="guardian")
    pages["enrolment-link"] = link
    newcomer = app.test_client()
    pages["enrol"] = newcomer.get(enrolment_path(link.get_data(as_text=True)))
    return pages


def test_every_page_is_valid_html(app: Flask, tmp_path: Path):
    java = shutil.which("java")
    assert java, "the markup check needs Java: apt-get install -y default-jre-headless"
    assert VNU_JAR.exists(), "the Nu HTML Checker is missing: run npm ci"
    pages = {**_reporter_pages(app), **_staff_pages(app)}
    files = []
    for name, response in pages.items():
        assert response.mimetype == "text/html", name
        path = tmp_path / f"{name}.html"
        path.write_text(response.get_data(as_text=True))
        files.append(str(path))
    assert len(files) >= 28
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
