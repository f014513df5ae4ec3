"""The attack the signed roster closes, replayed through real HTTP against gunicorn in production mode.

An administrator tries to read concerns: they add a guardian account, follow its enrolment link themselves, and
sign in as it. It opens nothing, because new case keys are wrapped only for guardians the signed roster log approves,
up to the pinned organisation key. Once a real guardian types its safety code it reads concerns raised from then
on, and none raised before that nobody shared with it. Resetting a real guardian's account gives the
administrator a link, never a secret, and leaves that guardian pending. On SQLite, and on PostgreSQL when
SPEAKUP_TEST_DATABASE_URL is set (a database named after it with ``_roster`` added, wiped)."""

from __future__ import annotations

import base64
import html
import os
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from support.html import ENROLMENT_LINK_RE, SAFETY_CODE_RE, TOTP_SECRET_RE
from support.present import found
from support.servers import (
    Browser,
    Server,
    Staff,
    create_guardian,
    enrolment_code_waiting,
    fresh_postgres_database,
    init_installation,
    production_env,
    run_cli,
    sign_in,
    start_gunicorn,
    totp_secret_from,
)

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("SPEAKUP_TEST_DATABASE_URL") else [])


@dataclass
class Installation:
    server: Server
    env: dict[str, str]
    database_url: str
    guardian: Staff
    admin: Staff

    def browser(self, label: str) -> Browser:
        return Browser(self.server.base_url, f"roster-attack-{label}")

    def query(self, statement: str, *params: object) -> list[tuple]:
        if self.database_url.startswith("sqlite"):
            with sqlite3.connect(self.database_url.removeprefix("sqlite:///")) as conn:
                return conn.execute(statement.replace("%s", "?"), params).fetchall()
        with psycopg.connect(self.database_url.replace("+psycopg", "")) as conn:
            return conn.execute(statement, params).fetchall()


@pytest.fixture(params=BACKENDS)
def installation(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Installation]:
    sqlite = f"sqlite:///{tmp_path / 'speakup.sqlite'}"
    url = sqlite if request.param == "sqlite" else fresh_postgres_database("_roster")
    env = production_env(url, workers="2", threads="2")
    key_file = init_installation(env, tmp_path / "recovery-key.txt")
    guardian = create_guardian(env, "gita@example.org", "Gita Guardian", key_file)  # the first, by the org key
    password = secrets.token_urlsafe(24)
    created = run_cli(env, "create-user", "--email", "ada@example.org", "--name", "Ada Admin", "--role", "admin",
                      stdin=password + "\n")  # fmt: skip
    admin = Staff("ada@example.org", password, totp_secret_from(created))
    server = start_gunicorn(env, tmp_path)
    try:
        yield Installation(server, env, url, guardian, admin)
    finally:
        server.stop()


def _raise(browser: Browser, words: str) -> str:
    answer = browser.post("/api/v1/concerns", json_body={"what_happened": words, "anonymity": "anonymous"})
    assert answer.status == 201, answer.text
    return answer.json()["reference"]


def _enrol_as_whoever_holds_the_link(browser: Browser, link_page: str, password: str) -> tuple[Staff, str]:
    """What the attacking administrator does with the link they were shown: set the account up themselves."""
    link = html.unescape(found(ENROLMENT_LINK_RE, link_page))
    path = link[link.index("/enrol") :]
    form = browser.get(path)
    assert form.status == 200, form.text
    secret_text = found(TOTP_SECRET_RE, form.text)
    secret = base64.b32decode(secret_text + "=" * (-len(secret_text) % 8))
    done = browser.post("/enrol", form={
        "csrf_token": form.csrf(), "token": path.split("token=", 1)[1], "password": password, "confirm": password,
        "totp_secret": secret_text, "security_code": enrolment_code_waiting(secret),
    })  # fmt: skip
    assert done.status == 200 and _path(done) == "/enrol/done", (done.status, _path(done))
    email = found(r'<span id="enrolment-email">([^<]+)</span>', form.text)
    return Staff(html.unescape(email), password, secret), found(SAFETY_CODE_RE, done.text)


def _path(answer) -> str:
    """The path of the page an answer came from, after the 303 urllib followed."""
    return urlsplit(answer.url).path


def _admin_post(browser: Browser, path: str, **form: str):
    page = browser.get("/admin/")
    return browser.post(path, form={"csrf_token": page.csrf(), **form})


def test_an_administrator_cannot_make_an_account_that_reads_concerns(installation: Installation):
    admin = installation.browser("admin")
    assert sign_in(admin, installation.admin).status == 200
    added = _admin_post(admin, "/admin/invite", name="Pup Pet", email="puppet@example.org", role="guardian")
    assert added.status == 200 and _path(added) == "/admin/enrolment-link" and "otpauth" not in added.text
    puppet, safety_code = _enrol_as_whoever_holds_the_link(installation.browser("admin-as-puppet"), added.text,
                                                           "the administrator's chosen words")  # fmt: skip

    before = _raise(installation.browser("reporter"), "Raised before the puppet was approved")
    puppet_browser = installation.browser("puppet")
    signed_in = sign_in(puppet_browser, puppet)
    assert signed_in.status == 200 and "You are waiting for approval" in signed_in.text
    opened = puppet_browser.get(f"/guardian/cases/{before}")
    assert opened.status == 403 and "Raised before the puppet" not in opened.text
    assert "Raised before" not in puppet_browser.get("/guardian/").text
    puppet_id = installation.query("SELECT id FROM users WHERE email = %s", "puppet@example.org")[0][0]
    grants = installation.query(
        "SELECT count(*) FROM case_grants g JOIN cases c ON c.id = g.case_id WHERE c.reference = %s "
        "AND g.user_id = %s", before, puppet_id
    )  # fmt: skip
    assert grants == [(0,)]

    # The real guardian checks the safety code: a wrong one approves nothing; the right one approves.
    gita = installation.browser("gita")
    assert sign_in(gita, installation.guardian).status == 200
    team = gita.get("/guardian/team")
    assert "Pup Pet" in team.text and "Pending" in team.text
    wrong = gita.post(f"/guardian/team/{puppet_id}/approve",
                      form={"csrf_token": team.csrf(), "safety_code": "00000 11111 22222 33333"})  # fmt: skip
    # Refused: back to the Team page, which says so by the form.
    assert wrong.status == 200 and _path(wrong) == "/guardian/team" and "Nothing was approved" in wrong.text
    assert "Raised before" not in puppet_browser.get(f"/guardian/cases/{before}").text
    team = gita.get("/guardian/team")  # a token is good for one form sent: the page again, as a person would
    right = gita.post(f"/guardian/team/{puppet_id}/approve",
                      form={"csrf_token": team.csrf(), "safety_code": safety_code})  # fmt: skip
    assert right.status == 200 and _path(right) == "/guardian/team" and "Pup Pet is approved." in right.text

    after = _raise(installation.browser("reporter"), "Raised after the approval")
    reads = puppet_browser.get(f"/guardian/cases/{after}")
    assert reads.status == 200 and "Raised after the approval" in reads.text
    still_closed = puppet_browser.get(f"/guardian/cases/{before}")
    assert still_closed.status == 403 and "Raised before the puppet" not in still_closed.text
    verified = run_cli(installation.env, "roster", "verify")
    assert "ok      puppet@example.org" in verified and "ok      gita@example.org" in verified


def test_an_administrators_reset_shows_no_secret_and_leaves_the_guardian_pending(installation: Installation):
    before = _raise(installation.browser("reporter"), "Held by Gita before the reset")
    admin = installation.browser("admin")
    assert sign_in(admin, installation.admin).status == 200
    gita_id = installation.query("SELECT id FROM users WHERE email = %s", "gita@example.org")[0][0]
    reset = _admin_post(admin, f"/admin/users/{gita_id}/reset-password")
    assert reset.status == 200 and _path(reset) == "/admin/enrolment-link", (reset.status, _path(reset))
    assert "otpauth" not in reset.text and 'id="totp-secret"' not in reset.text
    assert installation.guardian.password not in reset.text
    # The administrator sets the account up with the link and signs in as "Gita": pending, nothing opens.
    fake_gita, _code = _enrol_as_whoever_holds_the_link(installation.browser("admin-as-gita"), reset.text,
                                                        "the administrator's chosen words")  # fmt: skip
    impostor = installation.browser("impostor")
    assert "You are waiting for approval" in sign_in(impostor, fake_gita).text
    during = _raise(installation.browser("reporter"), "Raised while Gita is pending")
    for reference in (before, during):
        answer = impostor.get(f"/guardian/cases/{reference}")
        assert answer.status == 403
        assert "Held by Gita" not in answer.text and "Raised while Gita" not in answer.text
    # Nobody is left on the roster, so the concern went to the recovery key alone.
    grants = installation.query(
        "SELECT g.recipient FROM case_grants g JOIN cases c ON c.id = g.case_id WHERE c.reference = %s "
        "ORDER BY g.recipient", during
    )  # fmt: skip
    assert grants == [("recovery",), ("reporter",)]
