"""The guardian slice: sign-in with TOTP, the queue, the case page, and who cannot read a case."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select
from support.factories import Staff, gen_admin, gen_concern, gen_staff
from support.html import AuthActions, case_address, post_form
from support.present import found, get_row, present, scalar

from speakup.crypto import kem, password_keys, sealing
from speakup.keys import account_keys, grants
from speakup.platform import clock
from speakup.platform.models import Case, CaseGrant, StaffSession, User, db

SIGN_IN_FAILED = "Enter a correct email address, password and security code"


def _case_url(reference: str) -> str:
    return f"/guardian/cases/{reference}"


def _version(client, reference: str) -> str:
    page = client.get(_case_url(reference)).get_data(as_text=True)
    return found(r'name="version" value="(\d+)"', page)


def _came_back(client, response) -> str:
    """A refused form: a redirect (303), never a page of its own; the page it leads to says what was wrong."""
    assert response.status_code == 303, response.status_code
    return client.get(response.location).get_data(as_text=True)


def test_sign_in_page_has_contract_names(client):
    page = client.get("/guardian/sign-in").get_data(as_text=True)
    for label, name in (("Email address", "email"), ("Password", "password"), ("Security code", "security_code")):
        assert f'for="{name}">{label}</label>' in page
    assert ">Sign in</button>" in page


def test_sign_in_with_totp_then_queue_lists_granted_cases(app, client, auth, guardian):
    raised = gen_concern(client)
    response = auth.sign_in(guardian)
    assert response.status_code == 303 and response.headers["Location"].endswith("/guardian/")
    page = client.get("/guardian/").get_data(as_text=True)
    # The row links the case by its id (History keeps addresses), and shows its reference as the link's words.
    address = case_address(app, raised["reference"])
    assert f'href="{address}">{raised["reference"]}</a>' in page
    assert "<table" in page
    # Neither the queue nor the case page, opened at its id or at an old reference address, links anything by a
    # reference: no link or form of theirs would put one in the browser's History.
    case_pages = [client.get(url) for url in (address, _case_url(raised["reference"]))]
    assert [case_page.status_code for case_page in case_pages] == [200, 200]
    for shown in (page, *(case_page.get_data(as_text=True) for case_page in case_pages)):
        assert 'href="/guardian/cases/SU-' not in shown
        assert 'action="/guardian/cases/SU-' not in shown


@pytest.mark.parametrize("mistake", ["password", "code", "email", "replayed"])
def test_wrong_details_get_one_answer(client, auth, guardian, mistake):
    if mistake == "replayed":
        code = guardian.security_code()
        assert auth.sign_in(guardian, code=code).status_code == 303
        auth.sign_out()
        response = auth.sign_in(guardian, code=code)
    elif mistake == "password":
        guardian.password = "not the password at all"
        response = auth.sign_in(guardian)
    elif mistake == "code":
        response = auth.sign_in(guardian, code="000000" if guardian.security_code() != "000000" else "111111")
    else:
        guardian.email = "nobody@example.org"
        response = auth.sign_in(guardian)
    assert response.headers["Location"] == "/guardian/sign-in"
    assert "correct horse" not in response.get_data(as_text=True)
    page = _came_back(client, response)
    assert SIGN_IN_FAILED in page
    assert f'value="{guardian.email}"' in page  # the address is kept, to be put right
    assert "correct horse" not in page and "not the password" not in page  # the password never is
    assert re.search(r'id="password" name="password" type="password"[^>]* value=""', page)
    assert re.search(r'id="security_code" name="security_code"[^>]* value=""', page)
    assert client.get("/guardian/").status_code == 302


def test_case_page_decrypts_the_concern_and_identity(client, auth, guardian):
    raised = gen_concern(
        client,
        what_happened="Medicines left unlocked",
        where="Ward 4",
        anonymity="confidential",
        name="Sam Reporter",
        contact="sam@example.org",
    )
    auth.sign_in(guardian)
    response = client.get(_case_url(raised["reference"]))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    for text in ("Medicines left unlocked", "Ward 4", "Sam Reporter", "sam@example.org"):
        assert text in page
    assert 'for="status">Status</label>' in page and ">Update status</button>" in page
    assert 'for="body">Message to the person who raised this</label>' in page


def test_status_and_message_reach_the_reporter(client, auth, guardian):
    raised = gen_concern(client)
    auth.sign_in(guardian)
    ref = raised["reference"]
    response = post_form(
        client, _case_url(ref), f"{_case_url(ref)}/status", status="acknowledged", version=_version(client, ref)
    )
    assert response.status_code == 303
    response = post_form(client, _case_url(ref), f"{_case_url(ref)}/messages", body="Thank you for telling us.")
    assert response.status_code == 303
    followup = client.get("/api/v1/follow-up", headers={"Authorization": f"Bearer {raised['access_code']}"}).get_json()
    assert followup["status"] == "acknowledged"
    assert followup["messages"] == [
        {"author": "guardian", "body": "Thank you for telling us.", "created_at": followup["messages"][0]["created_at"]}
    ]


def test_forbidden_transition_is_refused_with_a_message(app, client, auth, guardian):
    raised = gen_concern(client)
    auth.sign_in(guardian)
    ref = raised["reference"]
    response = post_form(
        client, _case_url(ref), f"{_case_url(ref)}/status", status="referred", version=_version(client, ref)
    )
    assert "cannot move there" in _came_back(client, response)
    with app.app_context():
        assert db.session.scalar(select(Case.status).where(Case.reference == ref)) == "received"


def test_stale_status_form_gets_a_conflict_not_an_overwrite(app, client, auth, guardian):
    raised = gen_concern(client)
    auth.sign_in(guardian)
    ref = raised["reference"]
    stale_version = _version(client, ref)
    post_form(client, _case_url(ref), f"{_case_url(ref)}/status", status="acknowledged", version=stale_version)
    response = post_form(client, _case_url(ref), f"{_case_url(ref)}/status", status="closed", version=stale_version)
    assert "This case changed while you were working on it" in _came_back(client, response)
    with app.app_context():
        assert db.session.scalar(select(Case.status).where(Case.reference == ref)) == "acknowledged"


def test_empty_guardian_message_is_refused(client, auth, guardian):
    raised = gen_concern(client)
    auth.sign_in(guardian)
    ref = raised["reference"]
    response = post_form(client, _case_url(ref), f"{_case_url(ref)}/messages", body="")
    assert response.headers["Location"].endswith("#messages")
    assert "Write a message before sending it" in _came_back(client, response)


def test_guardian_without_a_grant_cannot_read(app, client, guardian):
    raised = gen_concern(client, what_happened="Only for the first guardian")
    late = gen_staff(app, email="late@example.org", name="Late Guardian")  # joined after the concern
    other = app.test_client()
    AuthActions(other).sign_in(late)
    assert raised["reference"] not in other.get("/guardian/").get_data(as_text=True)
    response = other.get(_case_url(raised["reference"]))
    assert response.status_code == 403
    assert "Only for the first guardian" not in response.get_data(as_text=True)
    # And not by the back door either: no grant row holds the case key for them.
    with app.app_context():
        case = scalar(select(Case).where(Case.reference == raised["reference"]))
        assert db.session.scalar(select(CaseGrant).where(CaseGrant.user_id == late.id)) is None
        with pytest.raises(grants.NoGrant):
            grants.guardian_case_key(case, late.id, kem.generate_keypair().private_bytes)


def test_administrator_cannot_read_a_concern(app, client):
    admin = gen_admin(app)
    raised = gen_concern(client, what_happened="Not for administrators")
    auth = AuthActions(client)
    assert auth.sign_in(admin).status_code == 303
    assert client.get("/guardian/").status_code == 403
    response = client.get(_case_url(raised["reference"]))
    assert response.status_code == 403
    assert "Not for administrators" not in response.get_data(as_text=True)
    # Separation of duties by cryptography: the admin's own private key opens no grant.
    with app.app_context():
        unlocked = account_keys.unlock_account(get_row(User, admin.id), admin.password)
        grants = db.session.scalars(select(CaseGrant).where(CaseGrant.recipient != "reporter")).all()
        case_id = scalar(select(Case.id).where(Case.reference == raised["reference"]))
        for grant in grants:
            with pytest.raises(sealing.DecryptionError):
                kem.unwrap_case_key(grant.wrapped_key, unlocked.private_key, case_id)


def test_sign_out_ends_the_server_session(app, client, auth, guardian):
    auth.sign_in(guardian)
    with app.app_context():
        assert len(db.session.scalars(select(StaffSession)).all()) == 1
    auth.sign_out()
    with app.app_context():
        assert db.session.scalars(select(StaffSession)).all() == []
    assert client.get("/guardian/").status_code == 302


def test_idle_staff_session_expires(app, client, auth, guardian):
    auth.sign_in(guardian)
    with app.app_context():
        row = db.session.scalars(select(StaffSession)).one()
        row.last_seen_at = clock.utcnow() - timedelta(minutes=31)
        db.session.commit()
    response = client.get("/guardian/")
    assert response.status_code == 302 and "/guardian/sign-in" in response.headers["Location"]


def _age_staff_session(app, *, idle: timedelta, age: timedelta) -> None:
    with app.app_context():
        row = db.session.scalars(select(StaffSession)).one()
        now = clock.utcnow()
        row.created_at, row.last_seen_at = now - age, now - idle
        db.session.commit()


def _signed_in(client) -> bool:
    response = client.get("/guardian/")
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and "/guardian/sign-in" in response.headers["Location"]
    return False


@pytest.mark.parametrize(
    ("idle_minutes", "age_hours", "still_signed_in"),
    [(29, 1, True), (31, 1, False), (1, 7.9, True), (1, 8.1, False)],
)
def test_staff_sessions_expire_when_idle_and_absolutely_by_default(
    app, client, auth, guardian, idle_minutes, age_hours, still_signed_in
):
    # Defaults: 30 minutes idle, 8 hours absolute, however busy the guardian has been.
    auth.sign_in(guardian)
    _age_staff_session(app, idle=timedelta(minutes=idle_minutes), age=timedelta(hours=age_hours))
    assert _signed_in(client) is still_signed_in
    with app.app_context():
        assert len(db.session.scalars(select(StaffSession)).all()) == (1 if still_signed_in else 0)


@pytest.mark.parametrize("app_overrides", [{"STAFF_IDLE_MINUTES": 5, "STAFF_ABSOLUTE_HOURS": 2}], indirect=True)
def test_staff_session_limits_are_configurable(app, client, auth, guardian):
    auth.sign_in(guardian)
    _age_staff_session(app, idle=timedelta(minutes=4), age=timedelta(hours=1.9))
    assert _signed_in(client)
    _age_staff_session(app, idle=timedelta(minutes=1), age=timedelta(hours=2.1))
    assert not _signed_in(client)
    auth.sign_in(guardian)
    _age_staff_session(app, idle=timedelta(minutes=6), age=timedelta(minutes=10))
    assert not _signed_in(client)


def test_sign_in_starts_a_new_session(app, client, auth, guardian):
    # Nothing set before sign-in survives it, and each sign-in gets a new server-side session id,
    # so a session cookie planted before sign-in (fixation) or kept from an earlier sign-in is useless.
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
        session["_user_id"] = "fixed-session-id"
    auth.sign_in(guardian)
    with client.session_transaction() as session:
        assert "planted" not in session
        first_id = session["_user_id"]
    assert first_id != "fixed-session-id"
    stale = app.test_client()
    with stale.session_transaction() as old, client.session_transaction() as current:
        old.update(current)
    auth.sign_in(guardian)  # again, while signed in
    with client.session_transaction() as session:
        second_id = session["_user_id"]
    assert second_id != first_id
    assert _signed_in(client)
    with app.app_context():
        assert set(db.session.scalars(select(StaffSession.id)).all()) == {second_id}
    assert not _signed_in(stale)  # a copy of the first session's cookie opens nothing now
    auth.sign_out()
    with app.app_context():
        assert db.session.scalars(select(StaffSession)).all() == []


def test_private_key_at_rest_is_sealed_under_the_password(app, guardian):
    with app.app_context():
        user = get_row(User, guardian.id)
        with pytest.raises(account_keys.InvalidCredentials):
            account_keys.unlock_account(user, "wrong password entirely")
        unlocked = account_keys.unlock_account(user, guardian.password)
        assert kem.public_key_of(unlocked.private_key) == user.public_key
        assert unlocked.totp_secret == guardian.totp_secret
        assert guardian.totp_secret not in present(user.totp_secret_ct, "sealed TOTP secret")


@pytest.fixture
def app_overrides(request):
    return getattr(request, "param", {})


def _outcome(client, response) -> str:
    """A sign-in or password form's answer: always a redirect back (never a page holding what was sent); the page
    it leads to says whether the limit stopped it."""
    assert response.status_code == 303, response.status_code
    page = client.get(response.location, follow_redirects=True).get_data(as_text=True)
    return "limited" if "Too many tries" in page else "checked"


@pytest.mark.parametrize("app_overrides", [{"SIGN_IN_RATE_LIMIT": "3 per minute"}], indirect=True)
def test_sign_in_is_rate_limited_per_account(app, guardian):
    # Each attempt from a different client address: the per-account limit still stops the fourth.
    for attempt in range(4):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"192.0.2.{attempt + 1}"
        guardian.password = f"wrong password number {attempt}"
        response = AuthActions(client).sign_in(guardian)
    assert _outcome(client, response) == "limited"
    assert int(response.headers["Retry-After"]) > 0


@pytest.mark.parametrize("app_overrides", [{"SIGN_IN_RATE_LIMIT": "3 per minute"}], indirect=True)
def test_sign_in_is_rate_limited_per_client(client, auth, guardian):
    for attempt in range(4):
        guardian.email = f"someone{attempt}@example.org"
        response = auth.sign_in(guardian)
    assert _outcome(client, response) == "limited"


def test_a_missing_session_key_signs_out_cleanly(client, auth, guardian):
    raised = gen_concern(client)
    auth.sign_in(guardian)
    with client.session_transaction() as session:
        session.pop("staff_key")
    response = client.get(_case_url(raised["reference"]))
    assert response.status_code == 302 and "/guardian/sign-in" in response.headers["Location"]
    assert client.get("/guardian/").status_code == 302  # the server-side session is gone too


@pytest.mark.parametrize("slots", [1, 2])
def test_argon2_derivations_are_bounded_per_process(app, monkeypatch, slots):
    # Each derivation holds ARGON2_MEMORY_KIB and releases Python's lock: the bound keeps a worker's memory known.
    app.extensions["speakup_password_derivations"] = threading.BoundedSemaphore(slots)
    running, most = 0, 0
    lock = threading.Lock()

    def slow_derivation(password, salt, params, secret=None):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return b"k" * 32

    monkeypatch.setattr(password_keys, "password_key", slow_derivation)

    def derive(_):
        with app.app_context():
            return account_keys.derive_password_key("a password", b"s" * 16, password_keys.PasswordParams(64, 1, 1))

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(derive, range(4))) == [b"k" * 32] * 4
    assert most == slots


def test_the_default_bound_is_two_derivations_per_process(app):
    assert app.config["ARGON2_PARALLEL_DERIVATIONS"] == 2
    slots = app.extensions["speakup_password_derivations"]
    assert slots.acquire(blocking=False) and slots.acquire(blocking=False) and not slots.acquire(blocking=False)
    slots.release()
    slots.release()


# --- Lockout: failures only, and a browser that signed in before gets through ------------------


def _from(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _wrong(app, guardian, address: str):
    wrong = Staff(guardian.id, guardian.email, "not the password at all", guardian.totp_secret)
    return AuthActions(_from(app, address)).sign_in(wrong, code="000000")


@pytest.mark.parametrize("app_overrides", [{"SIGN_IN_RATE_LIMIT": "3 per minute"}], indirect=True)
def test_only_failed_sign_ins_count_toward_an_accounts_limit(app, guardian):
    assert AuthActions(_from(app, "192.0.2.1")).sign_in(guardian).status_code == 303
    assert _wrong(app, guardian, "192.0.2.2").status_code == 303
    assert _wrong(app, guardian, "192.0.2.3").status_code == 303
    # Two failures so far: a new browser still gets in (the successful sign-in was not counted).
    assert AuthActions(_from(app, "192.0.2.4")).sign_in(guardian).status_code == 303


@pytest.mark.parametrize("app_overrides", [{"SIGN_IN_RATE_LIMIT": "3 per minute"}], indirect=True)
def test_someone_guessing_a_named_guardians_password_cannot_lock_them_out(app, guardian):
    own = _from(app, "198.51.100.7")  # the guardian's own browser
    assert AuthActions(own).sign_in(guardian).status_code == 303
    assert "speakup_device" in own.get_cookie("speakup_device", path="/guardian/").key
    AuthActions(own).sign_out()
    for attempt in range(4):
        _wrong(app, guardian, f"203.0.113.{attempt + 1}")
    stranger = _from(app, "203.0.113.99")
    locked = AuthActions(stranger).sign_in(guardian, code="000000")
    assert _outcome(stranger, locked) == "limited"  # a browser the account has never used is held back
    assert AuthActions(own).sign_in(guardian).status_code == 303  # the guardian's own browser is not


@pytest.mark.parametrize("app_overrides", [{"SIGN_IN_RATE_LIMIT": "3 per minute"}], indirect=True)
def test_a_known_browser_has_its_own_limit_and_only_for_its_own_account(app, guardian):
    other = gen_staff(app, email="other@example.org", name="Olu Other")
    own = _from(app, "198.51.100.7")
    assert AuthActions(own).sign_in(guardian).status_code == 303
    AuthActions(own).sign_out()
    wrong = Staff(guardian.id, guardian.email, "not the password at all", guardian.totp_secret)
    answers = [_outcome(own, AuthActions(own).sign_in(wrong, code="000000")) for _ in range(4)]
    assert answers == ["checked"] * 3 + ["limited"]  # a stolen device cookie buys only a few guesses
    # The cookie does nothing for another account: that account's own limit applies as usual.
    for attempt in range(3):
        _wrong(app, other, f"203.0.113.{attempt + 1}")
    stranger = _from(app, "203.0.113.50")
    assert _outcome(stranger, AuthActions(stranger).sign_in(other)) == "limited"


@pytest.mark.parametrize("app_overrides", [{"SIGN_IN_RATE_LIMIT": "3 per minute"}], indirect=True)
def test_guessing_the_current_password_on_the_change_form_is_limited(app, client, auth, guardian):
    auth.sign_in(guardian)
    form = {"new_password": "a brand new passphrase"}
    answers = [
        _outcome(client, post_form(client, "/guardian/account/password", current_password=f"guess {n}", **form))
        for n in range(4)
    ]
    assert answers == ["checked"] * 3 + ["limited"]
