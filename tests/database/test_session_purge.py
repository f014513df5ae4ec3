"""Leftover key material: an expired staff session's sealed private key, or an idle reporter's
sealed case key, must not wait in the database (and every backup) for its cookie to come back."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from support.factories import gen_concern, gen_staff
from support.html import AuthActions, post_form
from support.present import scalar

from speakup.platform import clock
from speakup.platform.models import ReporterSession, StaffSession, db


def _age_sessions(app, model, **ages: timedelta) -> None:
    with app.app_context():
        for row in db.session.scalars(select(model)):
            for column, age in ages.items():
                setattr(row, column, clock.utcnow() - age)
        db.session.commit()


def _count(app, model) -> int:
    with app.app_context():
        return scalar(select(func.count()).select_from(model))


def _follow_up(app, code: str):
    client = app.test_client()
    page = client.get("/follow-up").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert client.post("/follow-up", data={"csrf_token": token, "access_code": code}).status_code == 303
    return client


def test_sessions_purge_deletes_expired_staff_and_idle_reporter_sessions(app, client, runner):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    raised = gen_concern(client)
    AuthActions(app.test_client()).sign_in(gita)
    _follow_up(app, raised["access_code"])
    assert (_count(app, StaffSession), _count(app, ReporterSession)) == (1, 1)
    # Nothing is due yet: the purge keeps both.
    assert (
        "Deleted 0 expired staff sessions, 0 idle reporter sessions, 0 records of raised concerns "
        "and 0 records of sent forms." in runner.invoke(args=["speakup", "sessions", "purge"]).output
    )
    _age_sessions(app, StaffSession, last_seen_at=timedelta(minutes=31))
    _age_sessions(app, ReporterSession, last_seen_at=timedelta(minutes=16))
    result = runner.invoke(args=["speakup", "sessions", "purge"])
    assert result.exit_code == 0 and "Deleted 1 expired staff sessions, 1 idle reporter sessions" in result.output
    assert (_count(app, StaffSession), _count(app, ReporterSession)) == (0, 0)


def test_a_session_past_its_absolute_limit_is_purged_even_if_active(app, runner):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    AuthActions(app.test_client()).sign_in(gita)
    _age_sessions(app, StaffSession, created_at=timedelta(hours=8, minutes=1))
    runner.invoke(args=["speakup", "sessions", "purge"])
    assert _count(app, StaffSession) == 0


def test_every_staff_sign_in_sweeps_away_expired_sessions(app, client):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    raised = gen_concern(client)
    AuthActions(app.test_client()).sign_in(gita)
    _follow_up(app, raised["access_code"])
    _age_sessions(app, StaffSession, last_seen_at=timedelta(hours=2))
    _age_sessions(app, ReporterSession, last_seen_at=timedelta(hours=2))
    assert AuthActions(app.test_client()).sign_in(bea).status_code == 303
    with app.app_context():
        assert [row.user_id for row in db.session.scalars(select(StaffSession))] == [bea.id]
    assert _count(app, ReporterSession) == 0


def test_changing_a_password_ends_every_other_session_of_the_account(app):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    elsewhere, here, colleague = app.test_client(), app.test_client(), app.test_client()
    for browser, who in ((elsewhere, gita), (here, gita), (colleague, bea)):
        assert AuthActions(browser).sign_in(who).status_code == 303
    changed = post_form(here, "/guardian/account/password", current_password=gita.password,
                        new_password="a brand new passphrase")  # fmt: skip
    assert changed.status_code == 303
    assert "Your password has been changed" in here.get(changed.location).get_data(as_text=True)
    assert here.get("/guardian/").status_code == 200  # this browser stays signed in
    gone = elsewhere.get("/guardian/")
    assert gone.status_code == 302 and "/guardian/sign-in" in gone.headers["Location"]
    assert colleague.get("/guardian/").status_code == 200  # nobody else's
    with app.app_context():
        assert db.session.scalar(select(func.count(StaffSession.id)).where(StaffSession.user_id == gita.id)) == 1
