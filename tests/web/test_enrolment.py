"""Enrolment links and the Team page: people choose their own password and security code, and a
guardian approves a newcomer only by typing the safety code the newcomer was shown."""

from __future__ import annotations

import html
import re
import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from support.factories import PASSWORD, TOTP_SECRET_RE, enrol, enrolment_path, gen_concern, gen_staff, signed_in_admin
from support.html import AuthActions, csrf_token, post_form
from support.present import found, get_row, present, scalar

from speakup.crypto import sealing, signing, totp
from speakup.domain import enrolment
from speakup.ops import audit
from speakup.platform import clock
from speakup.platform.models import AuditEvent, CaseGrant, Enrolment, RosterEntry, StaffSession, User, db


def _landing(client, response, to: str):
    """The page a form's answer sends the browser to: every form is answered with a 303 (for the shared computer)."""
    assert response.status_code == 303, response.status_code
    assert urllib.parse.urlsplit(response.headers["Location"]).path == to, response.headers["Location"]
    return client.get(response.headers["Location"])


def _invite(admin_client, name="Nia New", email="nia@example.org", role="guardian") -> str:
    """The page an administrator lands on after adding an account: it shows the enrolment link."""
    response = post_form(admin_client, "/admin/invite", name=name, email=email, role=role)
    page = _landing(admin_client, response, "/admin/enrolment-link")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def _token(path: str) -> str:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)["token"][0]


def _open(app, path: str):
    client = app.test_client()
    page = client.get(path)
    return client, page


def _post_enrolment(client, path: str, page: str, **fields: str):
    secret = found(TOTP_SECRET_RE, page)
    code = totp.totp_now(crypto_secret(secret), clock.timestamp())
    data = {"token": _token(path), "password": PASSWORD, "confirm": PASSWORD, "totp_secret": secret,
            "security_code": code, **fields}  # fmt: skip
    return client.post("/enrol", data={"csrf_token": csrf_token(client, path), **data})


def crypto_secret(text: str) -> bytes:
    return present(enrolment.totp_from_text(text), "TOTP secret in the text")


# --- The link ----------------------------------------------------------------------------------------------------


def test_the_link_is_stored_only_as_a_keyed_hash_and_kept_out_of_paths(app):
    admin_client, _admin = signed_in_admin(app)
    path = enrolment_path(_invite(admin_client))
    assert path.startswith("/enrol?token=")  # in the query: gunicorn's access log records paths only
    token = _token(path)
    with app.app_context():
        row = scalar(select(Enrolment))
        assert row.token_hash != token and token not in row.token_hash
        assert row.token_hash == sealing.keyed_hash(app.config["TOKEN_PEPPER_BYTES"], token, "enrolment")
        assert row.expires_at - row.created_at == timedelta(hours=72)
        details = "".join(db.session.scalars(select(AuditEvent.detail)))
        assert token not in details


def test_the_enrolment_page_draws_its_qr_code_on_the_server_with_nothing_inline(app):
    admin_client, _admin = signed_in_admin(app)
    path = enrolment_path(_invite(admin_client))
    client, response = _open(app, path)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    secret = found(TOTP_SECRET_RE, page)
    assert len(crypto_secret(secret)) == 20
    assert '<svg role="img" aria-label="QR code for your authenticator app"' in page
    assert " style=" not in page and "<script>" not in page and "<style" not in page
    for label in ("Create a password", "Confirm your password", "Security code", "Finish setting up"):
        assert label in page
    # Each visit to the page offers a new secret (nothing is stored until the person finishes).
    assert found(TOTP_SECRET_RE, client.get(path).get_data(as_text=True)) != secret


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"password": "short", "confirm": "short"}, "password", "Your password must be at least 12 characters"),
        ({"confirm": "not the same words"}, "confirm", "The passwords do not match: type the same password twice"),
        ({"security_code": ""}, "security_code", "Enter the 6-digit security code your authenticator app shows now"),
        ({"security_code": "12345x"}, "security_code", "That security code is not right"),
    ],
)
def test_a_mistake_comes_back_by_its_field_with_the_same_secret_and_no_password(app, fields, field, message):
    admin_client, _admin = signed_in_admin(app)
    path = enrolment_path(_invite(admin_client))
    client, first = _open(app, path)
    secret = found(TOTP_SECRET_RE, first.get_data(as_text=True))
    response = _post_enrolment(client, path, first.get_data(as_text=True), **fields)
    # The answer is a redirect to the form with nothing in it or in its address: not the link, not a password.
    answer = response.get_data(as_text=True) + response.headers.get("Location", "")
    assert _token(path) not in answer and PASSWORD not in answer and secret not in answer, "the answer echoes"
    landed = _landing(client, response, "/enrol")
    page = landed.get_data(as_text=True)
    assert landed.status_code == 200 and "<title>Error: Set up your account" in page
    assert f'id="{field}-error"' in page and html.escape(message) in page
    assert found(TOTP_SECRET_RE, page) == secret  # already scanned: the same secret again
    assert PASSWORD not in page and "not the same words" not in page  # passwords are never sent back
    assert "12345x" not in page  # nor the security code
    with app.app_context():
        user = scalar(select(User).where(User.email == "nia@example.org"))
        assert user.public_key is None, "keys were made"
        assert db.session.scalar(select(Enrolment.used_at)) is None, "the link was used up"
    # The form still works from here: the right code finishes, with the secret scanned first.
    done = _post_enrolment(client, path, page)
    assert 'id="safety-code"' in _landing(client, done, "/enrol/done").get_data(as_text=True)


def test_the_link_works_once_and_the_owner_signs_in_with_what_they_chose(app):
    admin_client, _admin = signed_in_admin(app)
    page = _invite(admin_client)
    enrolled = enrol(app, page)
    assert re.fullmatch(r"\d{5} \d{5} \d{5} \d{5}", enrolled.safety_code_shown)
    with app.app_context():
        user = get_row(User, enrolled.staff.id)
        public_key, signing_key = (
            present(user.public_key, "public key"),
            present(user.signing_public_key, "signing key"),
        )
        assert signing.safety_code(public_key, signing_key) == enrolled.safety_code
        totp_secret = present(enrolled.staff.totp_secret, "TOTP secret")
        sealed_key, sealed_secret = present(user.private_key_ct, "sealed key"), present(user.totp_secret_ct, "sealed")
        assert PASSWORD.encode() not in sealed_key and totp_secret not in sealed_secret
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == audit.Action.ACCOUNT_ENROLLED).order_by(AuditEvent.id)
        )
        link = scalar(select(Enrolment.token_hash).where(Enrolment.user_id == user.id))
        assert [(e.actor_id, audit.detail_of(e)) for e in events] == [
            (user.id, {"email": "nia@example.org", "token_hash": link})  # its use is in the chain: test_spent_links.py
        ]
    # Used: the same link now says so, and changes nothing.
    again = app.test_client().get(enrolment_path(page))
    assert again.status_code == 410 and "This link has already been used" in again.get_data(as_text=True)
    assert AuthActions(app.test_client()).sign_in(enrolled.staff).status_code == 303


def test_enrolling_in_a_steps_last_seconds_sets_the_clock_on_rather_than_waiting(app, frozen_clock):
    """A code taken in a time step's last seconds could be two steps old by the time it is checked: the test's
    enrolment moves the service's clock to the next step instead of sleeping, and every code after it still works."""
    admin_client, _admin = signed_in_admin(app)
    page = _invite(admin_client)
    next_step = (int(clock.timestamp()) // totp.TOTP_STEP + 1) * totp.TOTP_STEP
    frozen_clock.freeze(datetime.fromtimestamp(next_step - 2, UTC))
    enrolled = enrol(app, page)
    assert clock.timestamp() - next_step == pytest.approx(0.1)
    for _ in range(2):  # this step's code, then the next one's
        assert AuthActions(app.test_client()).sign_in(enrolled.staff).status_code == 303


@pytest.mark.parametrize("problem", ["unknown", "expired", "disabled", "superseded"])
def test_an_unusable_link_says_why_and_changes_nothing(app, problem):
    admin_client, _admin = signed_in_admin(app)
    page = _invite(admin_client)
    path = enrolment_path(page)
    with app.app_context():
        user = scalar(select(User).where(User.email == "nia@example.org"))
        user_id = user.id
        if problem == "expired":
            scalar(select(Enrolment)).expires_at = clock.utcnow() - timedelta(seconds=1)
        elif problem == "disabled":
            user.is_active = False
        db.session.commit()
    if problem == "unknown":
        path = path[:-4] + "AAAA"
    if problem == "superseded":  # a reset gives a new link; the first stops working
        assert post_form(admin_client, "/admin/", f"/admin/users/{user_id}/reset-password").status_code == 303
    expected = {
        "unknown": (404, "This link does not work"),
        "expired": (410, "This link has expired"),
        "disabled": (410, "This account is disabled"),
        "superseded": (410, "This link has expired"),
    }[problem]
    client = app.test_client()
    sent = client.post("/enrol", data={"csrf_token": csrf_token(client, "/raise"), "token": _token(path),
                                       "password": PASSWORD, "confirm": PASSWORD})  # fmt: skip
    # Finishing with it is sent back to the link's page (nothing in the address), which says the same.
    for response in (client.get(path), _landing(client, sent, "/enrol")):
        assert (response.status_code, expected[1] in response.get_data(as_text=True)) == (expected[0], True)
    with app.app_context():
        assert get_row(User, user_id).public_key is None


def test_a_changed_hidden_secret_starts_again_from_the_link(app):
    admin_client, _admin = signed_in_admin(app)
    path = enrolment_path(_invite(admin_client))
    client, first = _open(app, path)
    scanned = found(TOTP_SECRET_RE, first.get_data(as_text=True))
    response = _post_enrolment(client, path, first.get_data(as_text=True), totp_secret="not base32 at all!")
    # Back to the link's page, which offers a new secret to scan: neither the changed one nor the first.
    page = _landing(client, response, "/enrol").get_data(as_text=True)
    offered = found(TOTP_SECRET_RE, page)
    assert offered not in (scanned, "not base32 at all!") and crypto_secret(offered) is not None
    assert PASSWORD not in page
    with app.app_context():
        assert scalar(select(User).where(User.email == "nia@example.org")).public_key is None


# --- Approving ---------------------------------------------------------------------------------------------------


def _team(app, staff):
    client = app.test_client()
    assert AuthActions(client).sign_in(staff).status_code == 303
    return client


def _approve(client, user_id: int, code: str):
    """Approve on the Team page: the page its answer leads back to."""
    response = post_form(client, "/guardian/team", f"/guardian/team/{user_id}/approve", safety_code=code)
    return _landing(client, response, "/guardian/team")


def test_the_team_page_lists_every_account_with_its_state(app):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    admin_client, _admin = signed_in_admin(app)
    enrol(app, _invite(admin_client, "Nia New", "nia@example.org"))
    _invite(admin_client, "Olu Invited", "olu@example.org")
    gone = gen_staff(app, email="gone@example.org", name="Gus Gone")
    post_form(admin_client, "/admin/", f"/admin/users/{gone.id}/disable")
    page = _team(app, gita).get("/guardian/team").get_data(as_text=True)
    rows = {}
    for row in re.findall(r'<tr class="nhsuk-table__row">(.*?)</tr>', page, re.S):
        rows[found(r'aria-hidden="true">Name </span>([^<(]+)', row).strip()] = row
    assert "Approved" in rows["Gita Guardian"] and "Approve<" not in rows["Gita Guardian"]
    assert "Pending" in rows["Nia New"] and "waiting for approval" in rows["Nia New"] and "Approve<" in rows["Nia New"]
    assert "has not set up their account yet" in rows["Olu Invited"] and "Approve<" not in rows["Olu Invited"]
    assert "Disabled" in rows["Gus Gone"]
    assert "Active" in rows["Ada Admin"] and "Administrator" in rows["Ada Admin"]


def test_a_wrong_safety_code_approves_nothing_and_says_so(app, client):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    admin_client, _admin = signed_in_admin(app)
    nia = enrol(app, _invite(admin_client))
    team = _team(app, gita)
    for wrong in (
        "",
        "12345 67890 12345 67890",
        nia.safety_code_shown[:-1] + "0" if nia.safety_code_shown[-1] != "0" else "1",
    ):
        response = _approve(team, nia.staff.id, wrong)
        page = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "Nothing was approved" in page or "Enter the safety code" in page
        assert f'id="safety_code-{nia.staff.id}-error"' in page
        assert page.startswith("<!DOCTYPE html>") and "<title>Error: Team" in page
    with app.app_context():
        approvals = select(func.count(RosterEntry.seq)).where(RosterEntry.kind == "approve")
        assert db.session.scalar(approvals) == 1  # Gita's own, nothing more
    reference = gen_concern(client)["reference"]
    nia_client = _team(app, nia.staff)
    assert nia_client.get(f"/guardian/cases/{reference}").status_code == 403


def test_approving_works_once_never_for_oneself_and_never_by_an_administrator_or_a_pending_guardian(app):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    admin_client, _admin = signed_in_admin(app)
    nia = enrol(app, _invite(admin_client, "Nia New", "nia@example.org"))
    olu = enrol(app, _invite(admin_client, "Olu Other", "olu@example.org"))
    gita_team = _team(app, gita)
    # A pending guardian cannot approve another, nor themselves.
    nia_team = _team(app, nia.staff)
    refused = _approve(nia_team, olu.staff.id, olu.safety_code_shown)
    assert "You cannot approve guardians until" in refused.get_data(as_text=True)
    assert "You cannot approve yourself" in _approve(nia_team, nia.staff.id, nia.safety_code_shown).get_data(
        as_text=True
    )
    # An administrator is not even let in.
    assert admin_client.get("/guardian/team").status_code == 403
    assert post_form(admin_client, "/admin/", f"/guardian/team/{nia.staff.id}/approve",
                     safety_code=nia.safety_code_shown).status_code == 403  # fmt: skip
    # An approved guardian cannot approve themselves either.
    assert "You cannot approve yourself" in _approve(gita_team, gita.id, "1" * 20).get_data(as_text=True)
    # The right code approves, once.
    ok = _approve(gita_team, nia.staff.id, nia.safety_code_shown)
    assert "Nia New is approved." in ok.get_data(as_text=True)
    twice = _approve(gita_team, nia.staff.id, nia.safety_code_shown)
    assert "Nia New is already approved" in twice.get_data(as_text=True)
    with app.app_context():
        approvals = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == audit.Action.GUARDIAN_APPROVED).order_by(AuditEvent.id)
        )
        by_gita = [(e.actor_type, e.actor_id, audit.detail_of(e)) for e in approvals if e.actor_id == gita.id]
        assert by_gita == [("guardian", gita.id, {"email": "nia@example.org", "by": "guardian"})]
    # Unknown accounts are not found.
    unknown = post_form(gita_team, "/guardian/team", "/guardian/team/99999/approve", safety_code="1" * 20)
    assert unknown.status_code == 404


def test_every_guardian_sees_the_changes_to_the_roster_on_the_queue(app):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    admin_client, _admin = signed_in_admin(app)
    nia = enrol(app, _invite(admin_client))
    _approve(_team(app, gita), nia.staff.id, nia.safety_code_shown)
    post_form(admin_client, "/admin/", f"/admin/users/{bea.id}/disable")
    gita_client = _team(app, gita)
    queue = gita_client.get("/guardian/").get_data(as_text=True)
    notice = re.search(r'<div class="nhsuk-inset-text" role="status" id="roster-changes">(.*?)</div>', queue, re.S)
    assert notice, queue
    text = notice.group(1)
    # With Gita and Bea approved, Nia needs both: one approval is reported as one, never as "approved".
    for line in ("Nia New was added", "Nia New received an approval", "Bea Guardian was disabled"):
        assert line in text
    assert "Nia New was approved" not in text
    newest_first = [text.index(line) for line in ("Bea Guardian was disabled", "received an approval", "was added")]
    assert newest_first == sorted(newest_first)
    post_form(admin_client, "/admin/", f"/admin/users/{nia.staff.id}/reset-password")
    assert "Nia New was reset and must be approved again" in gita_client.get("/guardian/").get_data(as_text=True)


def test_a_reset_ends_the_sessions_the_person_had_and_makes_them_pending(app, client):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    reference = gen_concern(client)["reference"]
    bea_elsewhere = _team(app, bea)
    assert bea_elsewhere.get(f"/guardian/cases/{reference}").status_code == 200
    admin_client, _admin = signed_in_admin(app)
    reset = post_form(admin_client, "/admin/", f"/admin/users/{bea.id}/reset-password")
    page = _landing(admin_client, reset, "/admin/enrolment-link").get_data(as_text=True)
    assert "New enrolment link for Bea Guardian" in page
    assert "otpauth" not in page and 'id="totp-secret"' not in page and bea.password not in page
    with app.app_context():
        assert db.session.scalar(select(func.count(StaffSession.id)).where(StaffSession.user_id == bea.id)) == 0
        user = get_row(User, bea.id)
        assert user.public_key is None
        newest = db.session.scalars(select(RosterEntry.kind).order_by(RosterEntry.seq.desc()).limit(2)).all()
        assert newest == ["link_issued", "reset"]  # the reset, then the new link
        assert db.session.scalar(select(func.count(CaseGrant.id)).where(CaseGrant.user_id == bea.id)) == 0
    response = bea_elsewhere.get(f"/guardian/cases/{reference}")
    assert response.status_code == 302 and "/guardian/sign-in" in response.headers["Location"]
    # Not a guardian again until someone approves the new keys.
    new_bea = enrol(app, page, password="bea's fresh passphrase")
    assert gita.id in _ids_wrapped(app, gen_concern(client)["reference"])
    assert bea.id not in _ids_wrapped(app, gen_concern(client)["reference"])
    _approve(_team(app, gita), bea.id, new_bea.safety_code_shown)
    assert bea.id in _ids_wrapped(app, gen_concern(client)["reference"])


def _ids_wrapped(app, reference: str) -> set[int]:
    from speakup.platform.models import Case

    with app.app_context():
        case_id = db.session.scalar(select(Case.id).where(Case.reference == reference))
        return set(db.session.scalars(select(CaseGrant.user_id).where(CaseGrant.case_id == case_id,
                                                                       CaseGrant.recipient == "guardian")))  # fmt: skip


def test_an_administrator_cannot_reset_their_own_account(app):
    admin_client, admin = signed_in_admin(app)
    response = post_form(admin_client, "/admin/", f"/admin/users/{admin.id}/reset-password")
    page = _landing(admin_client, response, "/admin/").get_data(as_text=True)
    assert "<title>Error: Staff accounts" in page and "You cannot reset your own account" in page
    assert 'id="enrolment-link"' not in page
    with app.app_context():
        assert get_row(User, admin.id).public_key is not None
