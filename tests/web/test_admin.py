"""Administrators and accounts: inviting, disabling and enabling, password change and reset, what an administrator
can never see, and sign-in answers that never reveal whether an email address has an account."""

from __future__ import annotations

import base64
import html
import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select
from support.factories import Staff, enrol, enrolment_path, gen_admin, gen_concern, gen_staff
from support.html import AuthActions, csrf_token, post_form, signed_in
from support.present import found, get_row, present, scalar

from speakup.crypto import totp
from speakup.keys import account_keys, grants
from speakup.ops import audit
from speakup.platform import clock
from speakup.platform.models import AuditEvent, Case, CaseGrant, StaffSession, User, db

SIGN_IN_FAILED = "Enter a correct email address, password and security code"
RESET_BEFORE = (
    "will not be able to open any case they hold now until another guardian shares it with them again, "
    "or the recovery key holder restores their cases."
)
RESET_AFTER = (
    "can no longer open the cases they held. Once approved again, another guardian can share those cases with them, "
    "or the recovery key holder can restore them with <code>flask speakup recover</code>."
)


# --- Helpers -------------------------------------------------------------------------------------


def _next_code(staff: Staff) -> str:
    """The code the next sign-in would use, without using it up (for attempts that must fail before it is checked)."""
    return totp.totp_now(present(staff.totp_secret, "TOTP secret"), clock.timestamp() + 30 * staff.steps_used)


def _sign_in(client, email: str, password: str, code: str):
    return post_form(client, "/guardian/sign-in", email=email, password=password, security_code=code)


def _sign_in_refused(client, email: str, password: str, code: str) -> str:
    """A sign-in that must fail: its answer sends the browser back to the sign-in page, whose text this is."""
    response = _sign_in(client, email, password, code)
    assert password not in response.get_data(as_text=True), "the answer carries the password"
    landed = _landing(client, response, "/guardian/sign-in")
    assert landed.status_code == 200
    page = landed.get_data(as_text=True)
    assert password not in page, "the password came back"
    return page


def _user(app, user_id: int) -> User:
    with app.app_context():
        user = get_row(User, user_id)
        db.session.expunge(user)
        return user


def _grants_of(app, user_id: int) -> int:
    with app.app_context():
        return scalar(
            select(func.count(CaseGrant.id)).where(CaseGrant.recipient == "guardian", CaseGrant.user_id == user_id)
        )


def _events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()
        for event in events:
            db.session.expunge(event)
        return list(events)


def _field_error(page: str, field: str, message: str) -> bool:
    """The message sits next to its field (the NHS.UK error message the field is described by)."""
    error = f'id="{field}-error"><span class="nhsuk-u-visually-hidden">Error:</span> {html.escape(message)}</span>'
    return error in page and f'aria-describedby="{field}-error"' in page


def _typed(page: str, field: str, kind: str, value: str) -> bool:
    return f'id="{field}" name="{field}" type="{kind}" autocomplete="off" spellcheck="false" value="{value}"' in page


def _landing(client, response, to: str):
    """The page a form's answer sends the browser to: every form is answered with a 303 (for the shared computer)."""
    assert response.status_code == 303, response.status_code
    assert urlsplit(response.headers["Location"]).path == to, response.headers["Location"]
    return client.get(response.headers["Location"])


def _admin_post(client, action: str, to: str = "/admin/", **data: str):
    """An administrator's form sent from the accounts page, and the page its answer leads to."""
    return _landing(client, post_form(client, "/admin/", action, **data), to)


def _invited(client, **fields: str) -> str:
    """Add an account, and the page the answer leads to, which shows its enrolment link."""
    response = post_form(client, "/admin/invite", **fields)
    assert "/enrol?token=" not in response.get_data(as_text=True), "the link is in the answer to the POST"
    page = _landing(client, response, "/admin/enrolment-link")
    assert page.status_code == 200
    return page.get_data(as_text=True)


# --- 6. Admin pages and inviting ------------------------------------------------------------------


def test_an_administrator_lands_on_the_accounts_page(app, client, auth, guardian):
    admin = gen_admin(app)
    response = auth.sign_in(admin)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin/")
    page = client.get("/admin/")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<h1>Staff accounts</h1>" in text
    assert "guardian@example.org" in text and "admin@example.org" in text
    # Actions for the others; for oneself only "change your password".
    assert f'action="/admin/users/{guardian.id}/disable"' in text
    assert f'href="/admin/users/{guardian.id}/reset-password"' in text
    assert f'action="/admin/users/{admin.id}/disable"' not in text
    assert f'href="/admin/users/{admin.id}/reset-password"' not in text


def test_a_guardian_cannot_use_the_admin_pages(app, client, auth, guardian):
    admin = gen_admin(app)
    other = gen_staff(app, email="other@example.org", name="Olu Guardian")
    auth.sign_in(guardian)
    for url in ("/admin/", "/admin/invite", f"/admin/users/{other.id}/reset-password"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "other@example.org" not in response.get_data(as_text=True)
    for url, data in (
        ("/admin/invite", {"name": "Sneaky", "email": "sneaky@example.org", "role": "admin"}),
        (f"/admin/users/{other.id}/disable", {}),
        (f"/admin/users/{admin.id}/disable", {}),
        (f"/admin/users/{other.id}/reset-password", {}),
    ):
        # Each form with a token of its own: a token is used once (for the shared computer).
        token = csrf_token(client, "/guardian/")
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 403, url
    # Nothing happened: no account, nobody disabled, the other guardian's password still works.
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "sneaky@example.org")) is None
        assert get_row(User, other.id).is_active and get_row(User, admin.id).is_active
    assert AuthActions(app.test_client()).sign_in(other).status_code == 303
    # Signed out, the admin pages send you to sign in.
    response = app.test_client().get("/admin/")
    assert response.status_code == 302 and "/guardian/sign-in" in response.headers["Location"]


def test_inviting_a_guardian_gives_a_one_time_link_and_never_a_secret(app, client, auth, guardian):
    admin = gen_admin(app)
    auth.sign_in(admin)
    form = client.get("/admin/invite").get_data(as_text=True)
    for name in ("name", "email", "role"):
        assert f'name="{name}"' in form
    response = post_form(client, "/admin/invite", name="Nia New", email="nia@example.org", role="guardian")
    shown = _landing(client, response, "/admin/enrolment-link")
    page = shown.get_data(as_text=True)
    assert shown.status_code == 200
    assert shown.headers["Cache-Control"] == "no-store"
    assert "Account created for Nia New" in page
    title = page[page.index("<title>") : page.index("</title>")]
    assert "Nia" not in title  # review finding F6: History keeps titles, and no title names a person
    assert enrolment_path(page).startswith("/enrol?token=")
    # No password and no security-code secret anywhere the administrator can see.
    assert "otpauth" not in page and 'id="totp-secret"' not in page and 'id="initial-password"' not in page
    with app.app_context():
        user = scalar(select(User).where(User.email == "nia@example.org"))
        assert (user.role, user.name, user.is_active) == ("guardian", "Nia New", True)
        assert user.public_key is None and user.private_key_ct is None and user.totp_secret_ct is None
        created = [e for e in _events(app, "account_created") if audit.detail_of(e).get("email") == "nia@example.org"]
        assert [(e.actor_type, e.actor_id, audit.detail_of(e)["role"]) for e in created] == [
            ("admin", admin.id, "guardian")
        ]

    # The person enrols with their own password and security code; the administrator's page had neither.
    enrolled = enrol(app, page, password="nia chooses her own words")
    assert enrolled.safety_code and "nia chooses her own words" not in page
    totp_text = base64.b32encode(present(enrolled.staff.totp_secret, "TOTP secret")).decode().rstrip("=")
    for seen in (page, client.get("/admin/").get_data(as_text=True)):
        assert totp_text not in seen and enrolled.safety_code not in seen
    assert "nia@example.org" in client.get("/admin/").get_data(as_text=True)

    # Signed in, they wait for approval and open nothing, not even a concern raised after they enrolled.
    nia_client = signed_in(app, enrolled.staff)
    waiting = nia_client.get("/guardian/").get_data(as_text=True)
    assert "You are waiting for approval" in waiting and enrolled.safety_code in waiting
    before = gen_concern(client, what_happened="Raised while Nia waits")["reference"]
    assert nia_client.get(f"/guardian/cases/{before}").status_code == 403

    # Once a guardian approves them with their safety code, the next concern reaches them; the earlier one not.
    gita = signed_in(app, guardian)
    approved = post_form(gita, "/guardian/team", f"/guardian/team/{enrolled.staff.id}/approve",
                         safety_code=enrolled.safety_code)  # fmt: skip
    assert "Nia New is approved" in _landing(gita, approved, "/guardian/team").get_data(as_text=True)
    after = gen_concern(client, what_happened="For the new guardian")["reference"]
    case_page = nia_client.get(f"/guardian/cases/{after}")
    assert case_page.status_code == 200 and "For the new guardian" in case_page.get_data(as_text=True)
    assert nia_client.get(f"/guardian/cases/{before}").status_code == 403


def test_inviting_an_administrator(app, client, auth):
    auth.sign_in(gen_admin(app))
    enrolled = enrol(app, _invited(client, name="Abe Admin", email="abe@example.org", role="admin"))
    assert enrolled.safety_code is None  # administrators are not approved: they never receive case keys
    response = AuthActions(app.test_client()).sign_in(enrolled.staff)
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/")


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"email": "not-an-email"}, "email", "Enter a valid email address"),
        ({"email": ""}, "email", "Enter a valid email address"),
        ({"role": ""}, "role", "Choose guardian or administrator"),
        ({"role": "superuser"}, "role", "Choose guardian or administrator"),
        ({"email": "Taken@Example.org"}, "email", "An account with that email address already exists"),
        ({"name": "  "}, "name", "Enter a name"),
        *[
            ({"email": email}, "email", "Enter a valid email address")
            for email in ("nia@", "@example.org", "nia smith@example.org", "nia@example.org, eve@example.net")
        ],
    ],
    ids=lambda value: ",".join(f"{k}={v!r}" for k, v in value.items()) if isinstance(value, dict) else "",
)
def test_an_invalid_invite_is_refused_next_to_the_field_with_values_kept(app, client, auth, fields, field, message):
    gen_staff(app, email="taken@example.org", name="Tam Taken")
    auth.sign_in(gen_admin(app))
    values = {"name": "Nia New", "email": "nia@example.org", "role": "guardian", **fields}
    with app.app_context():
        users_before = db.session.scalar(select(func.count(User.id)))
    response = post_form(client, "/admin/invite", **values)
    # The answer to the POST is a redirect back to the form, carrying nothing that was typed.
    for typed in (values["name"], values["email"]):
        if typed.strip():
            assert typed not in response.get_data(as_text=True) and typed not in response.headers["Location"]
    landed = _landing(client, response, "/admin/invite")
    page = landed.get_data(as_text=True)
    assert landed.status_code == 200
    assert "<title>Error: Add an account" in page
    assert _field_error(page, field, message), "the message is not by its field"
    assert f'<a href="#{field}">{html.escape(message)}</a>' in page  # the summary links to the field
    assert 'id="enrolment-link"' not in page
    # What was typed comes back.
    if values["name"].strip():
        assert _typed(page, "name", "text", html.escape(values["name"]))
    assert _typed(page, "email", "email", html.escape(values["email"]))
    if values["role"] == "guardian":
        assert '<option value="guardian" selected>' in page
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == users_before


def test_an_invite_with_an_overlong_name_is_refused_by_the_field(app, client, auth):
    auth.sign_in(gen_admin(app))
    response = post_form(client, "/admin/invite", name="N" * 201, email="nia@example.org", role="guardian")
    page = _landing(client, response, "/admin/invite").get_data(as_text=True)
    assert _field_error(page, "name", "Enter a name of 200 characters or fewer"), "the message is not by its field"


# --- 7. Disabling and enabling --------------------------------------------------------------------


def test_disabling_ends_sessions_stops_sign_in_and_new_grants_and_enabling_restores(app, client, auth, guardian):
    admin = gen_admin(app)
    first = gen_concern(client, what_happened="Before the account was disabled")["reference"]
    guardian_client = signed_in(app, guardian)
    assert guardian_client.get(f"/guardian/cases/{first}").status_code == 200

    auth.sign_in(admin)
    response = _admin_post(client, f"/admin/users/{guardian.id}/disable")
    assert response.status_code == 200
    assert "Gita Guardian&#39;s account is now disabled." in response.get_data(as_text=True)
    assert f'action="/admin/users/{guardian.id}/enable"' in client.get("/admin/").get_data(as_text=True)

    # Their open session ends at once.
    with app.app_context():
        assert db.session.scalar(select(func.count(StaffSession.id)).where(StaffSession.user_id == guardian.id)) == 0
    response = guardian_client.get(f"/guardian/cases/{first}")
    assert response.status_code == 302 and "/guardian/sign-in" in response.headers["Location"]
    assert "Before the account was disabled" not in response.get_data(as_text=True)

    # They cannot sign in, with the same answer as any wrong details.
    page = _sign_in_refused(app.test_client(), guardian.email, guardian.password, _next_code(guardian))
    assert SIGN_IN_FAILED in page

    # A concern raised meanwhile is not wrapped for them, and they are not offered to share with.
    other = gen_staff(app, email="other@example.org", name="Olu Guardian")
    during = gen_concern(client, what_happened="While disabled")["reference"]
    with app.app_context():
        during_id = scalar(select(Case.id).where(Case.reference == during))
        assert not grants.holds_grant(during_id, guardian.id)
        assert grants.holds_grant(during_id, other.id)
    other_client = signed_in(app, other)
    assert "Gita Guardian" not in other_client.get(f"/guardian/cases/{during}").get_data(as_text=True)
    assert "Gita Guardian" not in other_client.get("/guardian/share").get_data(as_text=True)

    # Enabling restores sign-in, but not reading: re-enabling is approval again, by a guardian with the safety code.
    response = _admin_post(client, f"/admin/users/{guardian.id}/enable")
    assert response.status_code == 200
    assert "Gita Guardian&#39;s account is now enabled." in response.get_data(as_text=True)
    assert AuthActions(guardian_client).sign_in(guardian).status_code == 303
    waiting = guardian_client.get("/guardian/").get_data(as_text=True)
    assert "You are waiting for approval" in waiting
    assert guardian_client.get(f"/guardian/cases/{first}").status_code == 403
    code = found(r'id="safety-code">([0-9 ]+)<', waiting)
    approved = post_form(other_client, "/guardian/team", f"/guardian/team/{guardian.id}/approve", safety_code=code)
    assert "Gita Guardian is approved" in _landing(other_client, approved, "/guardian/team").get_data(as_text=True)
    # Then the cases they held before open again, with the keys they always had.
    assert guardian_client.get(f"/guardian/cases/{first}").status_code == 200
    assert guardian_client.get(f"/guardian/cases/{during}").status_code == 403
    assert [audit.detail_of(e)["email"] for e in _events(app, "account_disabled")] == [guardian.email]
    assert [audit.detail_of(e)["email"] for e in _events(app, "account_enabled")] == [guardian.email]


def test_an_administrator_cannot_disable_themselves(app, client, auth):
    admin = gen_admin(app)
    auth.sign_in(admin)
    response = _admin_post(client, f"/admin/users/{admin.id}/disable")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "<title>Error: Staff accounts" in page
    assert "You cannot disable your own account" in page
    assert "account is now" not in page
    assert _user(app, admin.id).is_active
    assert client.get("/admin/").status_code == 200  # still signed in
    assert _events(app, "account_disabled") == []


@pytest.mark.parametrize(
    "user_id",
    [
        "999999",
        "99999999999999999999",
    ],
)
def test_an_unknown_account_is_not_found(app, client, auth, user_id):
    auth.sign_in(gen_admin(app))
    assert post_form(client, "/admin/", f"/admin/users/{user_id}/disable").status_code == 404
    assert post_form(client, "/admin/", f"/admin/users/{user_id}/enable").status_code == 404
    assert client.get(f"/admin/users/{user_id}/reset-password").status_code == 404
    assert post_form(client, "/admin/", f"/admin/users/{user_id}/reset-password").status_code == 404


# --- 8. Changing one's password -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("new_password", "message"),
    [
        ("password1234", "Choose a password that is harder to guess: this one is in a list of common passwords"),
        ("short", "Your password must be at least 12 characters"),
        ("guardian@example.org is me", "Your password must not contain your email address"),
        ("speak up speak up now", "Your password must not contain the name of the service"),
    ],
)
def test_a_weak_new_password_is_refused_with_the_policy(app, client, auth, guardian, new_password, message):
    auth.sign_in(guardian)
    response = post_form(
        client, "/guardian/account/password", current_password=guardian.password, new_password=new_password
    )
    answer = response.get_data(as_text=True) + response.headers.get("Location", "")
    assert new_password not in answer and guardian.password not in answer, "the answer carries a password"
    page = _landing(client, response, "/guardian/account/password").get_data(as_text=True)
    assert _field_error(page, "new_password", message), "the message is not by its field"
    assert new_password not in page and guardian.password not in page  # passwords never sent back
    with app.app_context():
        assert account_keys.unlock_account(get_row(User, guardian.id), guardian.password)
    assert _events(app, "password_changed") == []


def test_a_wrong_current_password_is_refused(app, client, auth, guardian):
    auth.sign_in(guardian)
    response = post_form(
        client, "/guardian/account/password", current_password="not my password at all", new_password="a long new one"
    )
    page = _landing(client, response, "/guardian/account/password").get_data(as_text=True)
    assert _field_error(page, "current_password", "Your current password is not right"), "not by its field"
    assert "not my password at all" not in page and "a long new one" not in page
    with app.app_context():
        user = get_row(User, guardian.id)
        with pytest.raises(account_keys.InvalidCredentials):
            account_keys.unlock_account(user, "a long new one")
        assert account_keys.unlock_account(user, guardian.password)


def test_changing_the_password_keeps_every_case(app, client, auth, guardian):
    texts = ["First concern for the change", "Second concern for the change", "Third concern for the change"]
    refs = [gen_concern(client, what_happened=text)["reference"] for text in texts]
    with app.app_context():
        public_key_before = get_row(User, guardian.id).public_key
    auth.sign_in(guardian)
    new_password = "blue kettle under the stairs"
    response = post_form(
        client, "/guardian/account/password", current_password=guardian.password, new_password=new_password
    )
    changed = _landing(client, response, "/guardian/account/password").get_data(as_text=True)
    assert "Your password has been changed. You can still open all your cases." in changed
    # The same key, re-sealed: every grant still opens, in this session and the next.
    with app.app_context():
        assert get_row(User, guardian.id).public_key == public_key_before
    assert _grants_of(app, guardian.id) == 3
    for ref, text in zip(refs, texts, strict=True):
        assert text in client.get(f"/guardian/cases/{ref}").get_data(as_text=True)
    auth.sign_out()

    assert SIGN_IN_FAILED in _sign_in_refused(client, guardian.email, guardian.password, _next_code(guardian))
    guardian.password = new_password
    assert auth.sign_in(guardian).status_code == 303
    for ref, text in zip(refs, texts, strict=True):
        response = client.get(f"/guardian/cases/{ref}")
        assert response.status_code == 200 and text in response.get_data(as_text=True)
    events = _events(app, "password_changed")
    assert [(e.actor_type, e.actor_id) for e in events] == [("guardian", guardian.id)]
    assert new_password not in events[0].detail


def test_a_successful_password_change_does_not_send_the_passwords_back(app, client, auth, guardian):
    auth.sign_in(guardian)
    new_password = "blue kettle under the stairs"
    response = post_form(
        client, "/guardian/account/password", current_password=guardian.password, new_password=new_password
    )
    answer = response.get_data(as_text=True) + response.headers.get("Location", "")
    assert new_password not in answer and guardian.password not in answer, "the answer carries a password"
    page = _landing(client, response, "/guardian/account/password").get_data(as_text=True)
    assert "Your password has been changed." in page
    assert new_password not in page
    assert guardian.password not in page


# --- 9. The reset page explains what a reset costs --------------------------------------------------


def test_the_reset_page_explains_that_old_grants_are_gone(app, client, auth, guardian):
    admin = gen_admin(app)
    colleague = gen_staff(app, email="colleague@example.org", name="Cal Colleague")
    ref = gen_concern(client, what_happened="Held before the reset")["reference"]
    auth.sign_in(admin)
    url = f"/admin/users/{guardian.id}/reset-password"
    page = client.get(url).get_data(as_text=True)
    assert "<h1>Reset password for Gita Guardian</h1>" in page
    assert RESET_BEFORE in page
    assert "If they remember their password, they can change it themselves instead and lose nothing." in page
    # Looking at the page changes nothing.
    assert _grants_of(app, guardian.id) == 1

    response = post_form(client, url)
    assert "/enrol?token=" not in response.get_data(as_text=True), "the link is in the answer to the POST"
    page = _landing(client, response, "/admin/enrolment-link").get_data(as_text=True)
    assert "New enrolment link for Gita Guardian" in page
    assert RESET_AFTER in page
    assert "otpauth" not in page and 'id="totp-secret"' not in page
    assert _grants_of(app, guardian.id) == 0
    # The old password stops working at once.
    assert SIGN_IN_FAILED in _sign_in_refused(
        app.test_client(), guardian.email, guardian.password, _next_code(guardian)
    )

    # Through the link they choose new secrets and are pending again: the case stays closed to them.
    enrolled = enrol(app, page, password="a brand new passphrase")
    assert enrolled.staff.totp_secret != guardian.totp_secret
    guardian_client = signed_in(app, enrolled.staff)
    assert "You are waiting for approval" in guardian_client.get("/guardian/").get_data(as_text=True)
    assert guardian_client.get(f"/guardian/cases/{ref}").status_code == 403
    # Approved again by a colleague, they still open the old case only once it is shared again.
    colleague_client = signed_in(app, colleague)
    post_form(colleague_client, "/guardian/team", f"/guardian/team/{guardian.id}/approve",
              safety_code=enrolled.safety_code_shown)  # fmt: skip
    assert guardian_client.get(f"/guardian/cases/{ref}").status_code == 403
    assert [(e.actor_type, e.actor_id, audit.detail_of(e)) for e in _events(app, "password_reset")] == [
        ("admin", admin.id, {"email": guardian.email, "count": 1})
    ]


def test_resetting_an_administrator_does_not_talk_about_cases(app, client, auth):
    admin = gen_admin(app)
    other = gen_staff(app, email="second-admin@example.org", role="admin", name="Sol Admin")
    auth.sign_in(admin)
    page = client.get(f"/admin/users/{other.id}/reset-password").get_data(as_text=True)
    assert RESET_BEFORE not in page
    page = _landing(client, post_form(client, f"/admin/users/{other.id}/reset-password"), "/admin/enrolment-link")
    page = page.get_data(as_text=True)
    assert "New enrolment link for Sol Admin" in page and "flask speakup recover" not in page
    enrolled = enrol(app, page, password="sol picks a new passphrase")
    response = AuthActions(app.test_client()).sign_in(enrolled.staff)
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/")


# --- 10. An administrator never sees concern text ---------------------------------------------------


def test_an_administrator_never_sees_concern_text(app, client, auth, guardian):
    admin = gen_admin(app)
    marker = "MARKER-7f3a the theatre list was falsified"
    auth.sign_in(admin)
    raised = gen_concern(
        client,
        what_happened=marker,
        where="Theatre 2 MARKER-where",
        anonymity="confidential",
        name="Rae MARKER-name",
        contact="rae-marker@example.org",
    )
    ref = raised["reference"]
    # The admin also invites a second administrator, who must not receive anything either.
    invited = _invited(client, name="Abe Admin", email="abe@example.org", role="admin")
    assert 'id="enrolment-link"' in invited
    later = gen_concern(client, what_happened=marker + " (later)")["reference"]

    secrets_seen = ("MARKER", "rae-marker@example.org", "falsified")
    with app.app_context():
        user_ids = list(db.session.scalars(select(User.id)))
    pages = [
        ("/admin/", 200),
        ("/admin/invite", 200),
        ("/admin/enrolment-link", 200),
        ("/guardian/account/password", 200),
        *[(f"/admin/users/{user_id}/reset-password", 200) for user_id in user_ids],
        ("/guardian/", 403),
        (f"/guardian/cases/{ref}", 403),
        (f"/guardian/cases/{later}", 403),
        ("/guardian/share", 403),
    ]
    for url, status in pages:
        response = client.get(url)
        assert response.status_code == status, url
        body = response.get_data(as_text=True)
        for secret in secrets_seen:
            assert secret not in body, (url, secret)
    # Actions the admin can take lead to pages without it either.
    for response in (
        _admin_post(client, f"/admin/users/{guardian.id}/disable"),
        _admin_post(client, f"/admin/users/{guardian.id}/enable"),
        post_form(client, "/admin/", f"/guardian/cases/{ref}/share", share_with=str(admin.id)),
    ):
        for secret in secrets_seen:
            assert secret not in response.get_data(as_text=True)

    # No grant for any administrator, and the audit trail holds no text.
    with app.app_context():
        admin_ids = list(db.session.scalars(select(User.id).where(User.role == "admin")))
        assert len(admin_ids) == 2
        assert db.session.scalar(select(func.count(CaseGrant.id)).where(CaseGrant.user_id.in_(admin_ids))) == 0
        assert "MARKER" not in "".join(db.session.scalars(select(AuditEvent.detail)))


# --- 11. Sign-in answers never reveal whether an account exists --------------------------------------


def _normalised(page: str) -> str:
    page = re.sub(r'name="(csrf|language)_token" value="[^"]+"', r'name="\1_token" value=""', page)
    return re.sub(
        r'id="email" name="email" type="email" autocomplete="[^"]*" spellcheck="false" value="[^"]*"',
        'id="email" name="email" value=""',
        page,
    )


def test_sign_in_answers_the_same_whether_or_not_the_email_exists(app, guardian):
    disabled = gen_staff(app, email="gone@example.org", name="Gus Gone")
    with app.app_context():
        get_row(User, disabled.id).is_active = False
        db.session.commit()
    unknown_email = "nobody-here@example.org"
    attempts = {
        "unknown email": (unknown_email, "some password typed here", _next_code(guardian)),
        "wrong password": (guardian.email, "some password typed here", _next_code(guardian)),
        "wrong code": (guardian.email, guardian.password, "000000" if _next_code(guardian) != "000000" else "111111"),
        "disabled account": (disabled.email, disabled.password, _next_code(disabled)),
    }
    answers = {}
    for label, (email, password, code) in attempts.items():
        browser = app.test_client()
        response = _sign_in(browser, email, password, code)
        page = _landing(browser, response, "/guardian/sign-in").get_data(as_text=True)
        assert page.count(SIGN_IN_FAILED) == 2, label  # once in the summary, once by the field
        assert password not in page and password not in response.get_data(as_text=True), label
        for word in ("no account", "not found", "unknown", "disabled", "does not exist"):
            assert word not in page.lower(), (label, word)
        answers[label] = (response.status_code, response.headers["Location"], _normalised(page))
    assert len(set(answers.values())) == 1, "the answers differ"

    failed = _events(app, "sign_in_failed")
    assert len(failed) == 4
    everything = "".join(f"{e.detail}|{e.actor_type}|{e.actor_id}" for e in failed)
    assert unknown_email not in everything and "nobody-here" not in everything
    assert "some password typed here" not in everything
    for event in failed:
        assert "email" not in audit.detail_of(event)
    unknown_event = failed[0]
    assert (unknown_event.actor_type, unknown_event.actor_id) == ("system", None)
    # Nothing in the whole audit log carries the typed unknown address.
    with app.app_context():
        assert all(unknown_email not in detail for detail in db.session.scalars(select(AuditEvent.detail)))


def test_enabling_an_account_that_is_already_enabled_says_so(app, admin_client):
    """Review 25, F5: Enable on an active account (a page open from before) said it was now enabled."""
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    page = post_form(admin_client, "/admin/", f"/admin/users/{bea.id}/enable")
    shown = admin_client.get(page.location).get_data(as_text=True)
    assert "account is already enabled: nothing was changed" in shown and "is now enabled" not in shown
