"""Adding an account, resetting one and enrolling are each answered once (for the shared computer): a browser sends a
form's body again on Reload and Back, long after the person who sent it has gone, so a second send makes no second
account or link and no answer ever carries back what was sent. The enrolment link is shown on the page after the POST,
from a slot sealed for the administrator's browser, and goes when they leave that page or sign out."""

from __future__ import annotations

import html
import re
import urllib.parse
from datetime import timedelta

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from flask.testing import FlaskClient
from sqlalchemy import func, select
from support.factories import PASSWORD, enrolment_code, enrolment_path, gen_staff, signed_in_admin
from support.html import ENROLMENT_LINK_RE, SAFETY_CODE_RE, TOTP_SECRET_RE, AuthActions
from support.present import found, present, scalar
from werkzeug.test import TestResponse

from speakup.domain import enrolment
from speakup.ops import audit
from speakup.platform import form_posts
from speakup.platform.models import AuditEvent, Enrolment, FormPost, User, db
from speakup.web import once

NAME, EMAIL = "Nia Newcomer", "nia.newcomer@example.org"
LINK_PAGE = "/admin/enrolment-link"
NO_LINK = "No enrolment link to show"


# --- Helpers -------------------------------------------------------------------------------------


def _form_token(page: str, action: str) -> str:
    """The token in the form that posts to ``action``, as the browser sends it."""
    form = re.search(rf'<form method="post" action="{re.escape(action)}"[^>]*>(.*?)</form>', page, re.S)
    assert form, f"no form posting to {action}"
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.group(1))
    assert token, f"no token in the form posting to {action}"
    return token.group(1)


def _path(response: TestResponse) -> str:
    assert response.status_code == 303, response.status_code
    return urllib.parse.urlsplit(response.headers["Location"]).path


def _follow(client: FlaskClient, response: TestResponse) -> TestResponse:
    _path(response)
    return client.get(response.headers["Location"])


def _invite_data(client: FlaskClient) -> dict[str, str]:
    page = client.get("/admin/invite").get_data(as_text=True)
    return {"csrf_token": _form_token(page, "/admin/invite"), "name": NAME, "email": EMAIL, "role": "guardian"}


def _sign_out(client: FlaskClient) -> None:
    """The header's Sign out button on the accounts page."""
    page = client.get("/admin/").get_data(as_text=True)
    response = client.post("/guardian/sign-out", data={"csrf_token": _form_token(page, "/guardian/sign-out")})
    assert response.status_code in (302, 303)
    gone = client.get("/admin/")
    assert gone.status_code == 302 and "/guardian/sign-in" in gone.headers["Location"], "still signed in"


def _link(page: str) -> str:
    found = ENROLMENT_LINK_RE.search(page)
    assert found, "no enrolment link on the page"
    return html.unescape(found.group(1))


def _echoes(answer: TestResponse, *sent: str) -> list[int]:
    """Which of ``sent`` (by position, never the value) an answer carries, in its body or its address."""
    text = answer.get_data(as_text=True) + answer.headers.get("Location", "")
    return [number for number, value in enumerate(sent) if value in text or html.escape(value) in text]


def _count(app: Flask, query) -> int:
    with app.app_context():
        return db.session.scalar(query)


def _events(app: Flask, action: str, email: str = EMAIL) -> int:
    """How many ``action`` events name the account ``email``."""
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == action))
        return sum(1 for event in events if audit.detail_of(event).get("email") == email)


def _session_cookie(app: Flask, client: FlaskClient) -> str:
    """What Flask's cookie holds, decoded: it is signed, not secret, so anyone with the cookie can read it."""
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    interface = app.session_interface
    assert isinstance(interface, SecureCookieSessionInterface)
    return repr(present(interface.get_signing_serializer(app), "session serializer").loads(cookie.value))


def _browser_secret(client: FlaskClient) -> str:
    with client.session_transaction() as session:
        return session[once.BROWSER]


def _nonce(token_field: str) -> str:
    return token_field.rpartition(once.SEPARATOR)[2].partition(".")[0]


# --- Add an account, reset ---------------------------------------------------------------------------


def test_add_an_account_sent_again_makes_nothing_twice_and_no_answer_echoes_it(app):
    admin_client, _admin_staff = signed_in_admin(app)
    data = _invite_data(admin_client)
    first = admin_client.post("/admin/invite", data=data)
    assert _path(first) == LINK_PAGE
    url = _link(admin_client.get(first.headers["Location"]).get_data(as_text=True))
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["token"][0]
    sent = (NAME, EMAIL, url, token)
    answers = [first]

    # Reload or Back and send: the same body with the same cookies follows the first to its page, whose link has
    # gone (it was shown once), and adds nobody.
    again = admin_client.post("/admin/invite", data=data)
    assert _path(again) == LINK_PAGE
    landed = admin_client.get(again.headers["Location"])
    assert landed.status_code == 200 and NO_LINK in landed.get_data(as_text=True)
    answers += [again, landed]

    # A browser with none of the session's cookies (a session that ended): refused, nothing read.
    stranger = app.test_client()
    refused = stranger.post("/admin/invite", data=data)
    answers += [refused, _follow(stranger, refused)]

    # The same browser after the administrator signed out: refused too.
    _sign_out(admin_client)
    after = admin_client.post("/admin/invite", data=data)
    answers += [after, _follow(admin_client, after)]

    for number, answer in enumerate(answers):
        assert _echoes(answer, *sent) == [], f"answer {number} carries what was sent or the link"
    assert _count(app, select(func.count(User.id)).where(User.email == EMAIL)) == 1
    assert _count(app, select(func.count(Enrolment.id))) == 1
    assert _events(app, audit.Action.ACCOUNT_CREATED) == 1 and _events(app, audit.Action.ENROLMENT_LINK_ISSUED) == 1
    # The one link made still works for its owner.
    assert app.test_client().get(url[url.index("/enrol") :]).status_code == 200


def test_a_reset_sent_again_makes_no_second_link(app):
    admin_client, _admin_staff = signed_in_admin(app)
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian", approved=False)
    action = f"/admin/users/{bea.id}/reset-password"
    page = admin_client.get(action).get_data(as_text=True)
    data = {"csrf_token": _form_token(page, action)}
    first = admin_client.post(action, data=data)
    url = _link(_follow(admin_client, first).get_data(as_text=True))
    again = admin_client.post(action, data=data)
    assert _path(again) == LINK_PAGE
    assert _echoes(again, url) == [] and _echoes(_follow(admin_client, again), url) == []
    assert _count(app, select(func.count(Enrolment.id)).where(Enrolment.user_id == bea.id)) == 1
    assert _events(app, audit.Action.PASSWORD_RESET, bea.email) == 1
    assert app.test_client().get(url[url.index("/enrol") :]).status_code == 200  # the first link still works


def test_the_link_is_sealed_for_the_browser_never_in_its_cookie_or_in_the_clear(app):
    admin_client, _admin_staff = signed_in_admin(app)
    data = _invite_data(admin_client)
    first = admin_client.post("/admin/invite", data=data)
    # Before the page is shown: what the browser's cookie and the database hold meanwhile.
    cookie = _session_cookie(app, admin_client)
    with app.app_context():
        rows = db.session.scalars(select(FormPost)).all()
        kept = [row.kept_ct for row in rows if row.kept_ct]
        nonce = _nonce(data["csrf_token"])
        # Sealed under the browser's secret: with another one it does not open.
        assert form_posts.open_kept(nonce, "another browser's secret") is None
        assert form_posts.open_kept(nonce, _browser_secret(admin_client)) is not None
    url = _link(_follow(admin_client, first).get_data(as_text=True))
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["token"][0]
    assert token not in cookie and NAME not in cookie and EMAIL not in cookie, "the cookie carries the link"
    assert len(kept) == 1, "the link is kept once"
    assert all(value.encode() not in kept[0] for value in (token, NAME, EMAIL)), "kept in the clear"


def test_the_link_page_shows_it_once(app):
    admin_client, _admin_staff = signed_in_admin(app)
    first = admin_client.post("/admin/invite", data=_invite_data(admin_client))
    url = _link(_follow(admin_client, first).get_data(as_text=True))
    reloaded = admin_client.get(LINK_PAGE)
    assert reloaded.status_code == 200 and NO_LINK in reloaded.get_data(as_text=True)
    assert _echoes(reloaded, url, NAME, EMAIL) == [], "a reload showed the link again"
    with app.app_context():
        assert db.session.scalar(select(func.count(FormPost.lookup)).where(FormPost.kept_ct.is_not(None))) == 0


def test_the_link_page_is_gone_after_the_administrator_signs_out(app):
    admin_client, admin = signed_in_admin(app)
    # Signing out from another tab, opened before the account was added, before the link page was seen.
    sign_out_token = _form_token(admin_client.get("/admin/").get_data(as_text=True), "/guardian/sign-out")
    assert _path(admin_client.post("/admin/invite", data=_invite_data(admin_client))) == LINK_PAGE
    signed_out = admin_client.post("/guardian/sign-out", data={"csrf_token": sign_out_token})
    assert signed_out.status_code in (302, 303)
    with app.app_context():
        assert db.session.scalar(select(func.count(FormPost.lookup)).where(FormPost.kept_ct.is_not(None))) == 0
    gone = admin_client.get(LINK_PAGE)
    assert gone.status_code == 302 and "/guardian/sign-in" in gone.headers["Location"]
    # Signed in again in the same browser, the page has nothing to show.
    assert AuthActions(admin_client).sign_in(admin).status_code == 303
    page = admin_client.get(LINK_PAGE)
    assert page.status_code == 200 and NO_LINK in page.get_data(as_text=True)
    assert 'id="enrolment-link"' not in page.get_data(as_text=True) and _echoes(page, NAME, EMAIL) == []


def test_the_link_page_shows_nothing_to_another_browser_after_leaving_it_or_after_a_while(app):
    admin_client, _admin_staff = signed_in_admin(app)
    other_admin = gen_staff(app, email="other-admin@example.org", role="admin", name="Oz Admin")
    other = app.test_client()
    assert AuthActions(other).sign_in(other_admin).status_code == 303

    # Another administrator's browser finds nothing; the browser that made it then sees it.
    first = admin_client.post("/admin/invite", data=_invite_data(admin_client))
    assert _echoes(other.get(LINK_PAGE), NAME, EMAIL, "/enrol?token=") == [], "another browser saw the link"
    assert 'id="enrolment-link"' in _follow(admin_client, first).get_data(as_text=True)

    # Another page opened in between makes it go.
    second = admin_client.post("/admin/invite", data={**_invite_data(admin_client), "email": "olu@example.org"})
    assert _path(second) == LINK_PAGE
    admin_client.get("/admin/")
    assert NO_LINK in admin_client.get(LINK_PAGE).get_data(as_text=True)

    # Some minutes later the slot is no longer opened, even in the browser that made it.
    third = admin_client.post("/admin/invite", data={**_invite_data(admin_client), "email": "ola@example.org"})
    assert _path(third) == LINK_PAGE
    with app.app_context():
        for row in db.session.scalars(select(FormPost).where(FormPost.kept_at.is_not(None))):
            row.kept_at = present(row.kept_at, "kept_at") - timedelta(minutes=app.config["KEPT_FORM_MINUTES"] + 1)
        db.session.commit()
    assert NO_LINK in admin_client.get(LINK_PAGE).get_data(as_text=True)


# --- Enrolment ----------------------------------------------------------------------------------------


def _enrolment_form(app: Flask) -> tuple[str, FlaskClient, dict[str, str]]:
    """A new guardian's link, opened in their own browser: its path, the browser, and the filled-in form."""
    admin_client, _admin_staff = signed_in_admin(app)
    first = admin_client.post("/admin/invite", data=_invite_data(admin_client))
    path = enrolment_path(_follow(admin_client, first).get_data(as_text=True))
    client = app.test_client()
    page = client.get(path).get_data(as_text=True)
    secret = found(TOTP_SECRET_RE, page)
    data = {
        "csrf_token": _form_token(page, "/enrol"),
        "token": urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)["token"][0],
        "password": PASSWORD,
        "confirm": PASSWORD,
        "totp_secret": secret,
        "security_code": enrolment_code(present(enrolment.totp_from_text(secret), "TOTP secret")),
    }
    return path, client, data


def test_enrolling_sent_again_enrols_once_and_no_answer_echoes_it(app):
    path, client, data = _enrolment_form(app)
    sent = (data["password"], data["token"], data["totp_secret"], data["security_code"])
    first = client.post("/enrol", data=data)
    assert _path(first) == "/enrol/done"
    done = client.get(first.headers["Location"])
    code = SAFETY_CODE_RE.search(done.get_data(as_text=True))
    assert code, "no safety code on the page after enrolling"
    assert code.group(1) not in first.get_data(as_text=True) + first.headers["Location"]
    with app.app_context():
        user = scalar(select(User).where(User.email == EMAIL))
        keys = (user.public_key, user.private_key_ct, user.totp_secret_ct)
    answers = [first, done]

    # The same body again, with the same cookies, and from a browser without them.
    again = client.post("/enrol", data=data)
    assert _path(again) == "/enrol/done"
    answers += [again, client.get(again.headers["Location"])]
    stranger = app.test_client()
    refused = stranger.post("/enrol", data=data)
    answers += [refused, _follow(stranger, refused)]

    for number, answer in enumerate(answers):
        assert _echoes(answer, *sent) == [], f"answer {number} carries what was sent"
    assert _events(app, audit.Action.ACCOUNT_ENROLLED) == 1
    with app.app_context():
        user = scalar(select(User).where(User.email == EMAIL))
        assert (user.public_key, user.private_key_ct, user.totp_secret_ct) == keys, "keys made twice"
    # The link is used: opening it says so.
    assert app.test_client().get(path).status_code == 410


def test_a_failed_enrolment_keeps_only_the_link_and_the_secret_scanned(app):
    _link_path, client, data = _enrolment_form(app)
    wrong = {**data, "confirm": "not the same words at all", "security_code": "000000"}
    first = client.post("/enrol", data=wrong)
    assert _path(first) == "/enrol"
    sent = (PASSWORD, "not the same words at all", data["token"], data["totp_secret"])
    assert _echoes(first, *sent) == []
    # What is kept for the page, opened as this browser opens it: the link's token and the secret already scanned.
    with app.test_request_context():
        kept = form_posts.open_kept(_nonce(data["csrf_token"]), _browser_secret(client))
        assert kept is not None
        assert kept.values["token"] == data["token"] and kept.values["totp_secret"] == data["totp_secret"]
        assert (kept.values["password"], kept.values["confirm"], kept.values["security_code"]) == ("", "", "")
        assert set(kept.errors) == {"confirm", "security_code"}
    page = client.get(first.headers["Location"]).get_data(as_text=True)
    assert found(TOTP_SECRET_RE, page) == data["totp_secret"]
    assert PASSWORD not in page and "not the same words at all" not in page and "000000" not in page

    # Sent again (a double click) and from a browser without the cookies: nothing enrolled, nothing echoed.
    again = client.post("/enrol", data=wrong)
    stranger = app.test_client()
    refused = stranger.post("/enrol", data=wrong)
    for answer in (again, _follow(client, again), refused, _follow(stranger, refused)):
        assert _echoes(answer, PASSWORD, "not the same words at all") == []
    with app.app_context():
        assert db.session.scalar(select(User.public_key).where(User.email == EMAIL)) is None
        assert db.session.scalar(select(Enrolment.used_at)) is None


def test_the_safety_code_is_shown_only_to_the_browser_that_enrolled_and_only_while_it_stays(app):
    _link_path, client, data = _enrolment_form(app)
    done = _follow(client, client.post("/enrol", data=data))
    code = found(SAFETY_CODE_RE, done.get_data(as_text=True))
    assert found(SAFETY_CODE_RE, client.get("/enrol/done").get_data(as_text=True)) == code  # a reload
    assert code not in _session_cookie(app, client)
    other = app.test_client().get("/enrol/done")
    assert other.status_code == 302 and "/guardian/sign-in" in other.headers["Location"]
    assert code not in other.get_data(as_text=True)
    client.get("/guardian/sign-in")  # another page: the code goes (signing in shows it again, to its owner)
    gone = client.get("/enrol/done")
    assert gone.status_code == 302 and code not in gone.get_data(as_text=True)
