"""Issue 24, points 2 and 5: a guardian's session that timed out is forgotten whole, as at sign-out, and the same
guardian signing in again goes back to the page they were on, from a slot kept server-side for that browser, never
from a ``next=`` in the address (History would keep the case's reference)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from support.factories import gen_concern, gen_staff
from support.html import AuthActions, csrf_token

from speakup.platform import clock
from speakup.platform.models import StaffSession, db


def _time_out(app) -> None:
    with app.app_context():
        db.session.execute(update(StaffSession).values(last_seen_at=clock.utcnow() - timedelta(hours=2)))
        db.session.commit()


def _session_keys(app, client) -> set[str]:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    return set(app.session_interface.get_signing_serializer(app).loads(cookie.value)) if cookie else set()


def test_a_time_out_forgets_the_session_and_returns_the_same_guardian_to_their_case(app, client):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    reference = gen_concern(app.test_client())["reference"]
    assert AuthActions(client).sign_in(gita).status_code == 303
    case_url = f"/guardian/cases/{reference}"
    assert client.get(case_url).status_code == 200
    assert {"staff_key", "_user_id"} <= _session_keys(app, client)
    _time_out(app)

    timed_out = client.get(case_url)
    assert timed_out.status_code == 302 and timed_out.location == "/guardian/sign-in"  # no next=
    assert timed_out.headers["Clear-Site-Data"] == '"cache", "storage"'
    left = _session_keys(app, client)
    assert not left & {"staff_key", "_user_id", "_fresh", "_id"}, left  # the whole session went
    page = client.get("/guardian/sign-in").get_data(as_text=True)
    assert 'id="timed-out"' in page and reference not in page

    signed_in = AuthActions(client).sign_in(gita)
    assert signed_in.status_code == 303 and signed_in.location == case_url


def test_another_guardian_signing_in_there_goes_to_their_own_queue(app, client):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    reference = gen_concern(app.test_client())["reference"]
    assert AuthActions(client).sign_in(gita).status_code == 303
    _time_out(app)
    assert client.get(f"/guardian/cases/{reference}").status_code == 302
    signed_in = AuthActions(client).sign_in(bea)
    assert signed_in.status_code == 303 and signed_in.location == "/guardian/"
    # Nor is Gita, signing in there later, sent back: the slot went with Bea's sign-in.
    AuthActions(client).sign_out()
    assert AuthActions(client).sign_in(gita).location == "/guardian/"


def test_a_form_sent_after_the_time_out_returns_to_its_page_not_its_address(app, client):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    reference = gen_concern(app.test_client())["reference"]
    assert AuthActions(client).sign_in(gita).status_code == 303
    url = f"/guardian/cases/{reference}"
    token = csrf_token(client, url)  # the page open while they write; the session times out meanwhile
    _time_out(app)
    sent = client.post(f"{url}/messages", data={"csrf_token": token, "body": "Thank you for telling us."})
    assert sent.status_code == 303 and sent.location == "/guardian/sign-in"
    assert AuthActions(client).sign_in(gita).location == url


def test_a_time_out_is_in_the_audit_trail_like_a_sign_out(app, client):
    """Review 25, F3: sign-out was audited, a time-out left no record but a marker with nobody's name on it."""
    from sqlalchemy import select

    from speakup.ops import audit
    from speakup.platform.models import AuditEvent

    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    assert AuthActions(client).sign_in(gita).status_code == 303
    _time_out(app)
    assert client.get("/guardian/").status_code == 302
    client.get("/guardian/")  # found once: the session has gone, so nothing more is recorded
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == audit.Action.SESSION_TIMED_OUT))
        assert [(e.actor_type, audit.detail_of(e)) for e in events] == [("system", {"user_id": gita.id})]
