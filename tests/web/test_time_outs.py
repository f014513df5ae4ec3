"""Issue 26, point 1: time-outs a person is told about and can put off (WCAG 2.2.1, Timing Adjustable).

Every signed-in page says how long it stays open without activity (JavaScript off too) and carries the times its
script warns by; "Stay signed in" is a keep-alive that needs this browser's form token and a live session, and never
moves a staff session's absolute limit; a guardian's words typed before a time-out come back after they sign in
again, to them only, sealed to their own key meanwhile (never in plain in any table)."""

from __future__ import annotations

from datetime import timedelta
from types import ModuleType

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from support.factories import gen_concern, gen_staff
from support.html import CSRF_RE, AuthActions, csrf_token, following_up
from support.present import found

from speakup.platform.models import ReporterSession, StaffSession, db

NOTICE_STAFF = (
    "For your safety, this page signs you out after 30 minutes without activity, and 8 hours after you signed in."
)
NOTICE_REPORTER = "For your safety, this page signs you out after 15 minutes without activity."
# A reporter has no key their words could be sealed to, so a reply they are writing is not kept: they are told so,
# with JavaScript off (the notice) and on (the warning, and the page the script ends on).
REPLY_NOT_SAVED = "A reply you are writing is not saved until you send it, so copy it before then if you need longer."
REPLY_NOT_SAVED_WARNING = "What you have typed and not sent is not saved: copy it now, or choose Stay signed in."
REPLY_NOT_KEPT = "Anything you had typed and not sent was not kept, for your safety."


def _staff_row(app: Flask) -> StaffSession:
    with app.app_context():
        rows = db.session.scalars(select(StaffSession)).all()
        assert len(rows) == 1
        db.session.expunge(rows[0])
        return rows[0]


def _reporter_row(app: Flask) -> ReporterSession:
    with app.app_context():
        rows = db.session.scalars(select(ReporterSession)).all()
        assert len(rows) == 1
        db.session.expunge(rows[0])
        return rows[0]


def _number(page: str, attribute: str) -> int:
    return int(found(rf'{attribute}="(\d+)"', page))


# --- 1. The page says so, with JavaScript off ---------------------------------------------------------------------


def test_staff_pages_say_how_long_they_stay_open(app: Flask, client: FlaskClient):
    gita = gen_staff(app, email="gita@example.org")
    reference = gen_concern(app.test_client())["reference"]
    AuthActions(client).signed_in(gita)
    for url in ("/guardian/", f"/guardian/cases/{reference}", "/guardian/record"):
        page = client.get(url).get_data(as_text=True)
        assert NOTICE_STAFF in page, url
        assert REPLY_NOT_SAVED not in page and REPLY_NOT_SAVED_WARNING not in page  # a guardian's words are kept
        assert _number(page, "data-idle-seconds") == 30 * 60
        assert 29 * 60 <= _number(page, "data-seconds-left") <= 30 * 60
        assert 8 * 3600 - 60 <= _number(page, "data-absolute-seconds-left") <= 8 * 3600
        assert _number(page, "data-warning-seconds") == 120
        assert 'aria-labelledby="time-out-heading"' in page and "Stay signed in" in page
    assert NOTICE_STAFF not in app.test_client().get("/guardian/sign-in").get_data(as_text=True)  # signed-in only


def test_the_reporters_page_says_how_long_it_stays_open(app: Flask):
    code = gen_concern(app.test_client())["access_code"]
    reporter = following_up(app, code)
    page = reporter.get("/follow-up/case").get_data(as_text=True)
    assert NOTICE_REPORTER in page
    assert _number(page, "data-idle-seconds") == 15 * 60
    assert 14 * 60 <= _number(page, "data-seconds-left") <= 15 * 60  # its time is kept to the minute
    assert "data-absolute-seconds-left" not in page and "data-keeps-words" not in page
    assert REPLY_NOT_SAVED in page and REPLY_NOT_SAVED_WARNING in page
    # A reporter's session has no absolute limit: its dialog never speaks of one (review 26b, F4: "None hours").
    assert "None" not in page and 'id="time-out-absolute"' not in page
    assert NOTICE_REPORTER not in app.test_client().get("/follow-up").get_data(as_text=True)


@pytest.mark.parametrize(
    "app_overrides",
    [{"STAFF_IDLE_MINUTES": 3, "REPORTER_IDLE_MINUTES": 3, "TIMEOUT_WARNING_MINUTES": 1}],
    indirect=True,
)
def test_the_limits_are_the_configured_ones(app: Flask, client: FlaskClient):
    AuthActions(client).signed_in(gen_staff(app))
    page = client.get("/guardian/").get_data(as_text=True)
    assert "signs you out after 3 minutes without activity" in page
    assert _number(page, "data-idle-seconds") == 180 and _number(page, "data-warning-seconds") == 60
    reporter = following_up(app, gen_concern(app.test_client())["access_code"])
    page = reporter.get("/follow-up/case").get_data(as_text=True)
    assert "signs you out after 3 minutes without activity" in page and _number(page, "data-idle-seconds") == 180


# --- 2. Stay signed in --------------------------------------------------------------------------------------------


def test_stay_signed_in_starts_a_staff_sessions_idle_time_again(app: Flask, client: FlaskClient, frozen_clock):
    AuthActions(client).signed_in(gen_staff(app))
    token = csrf_token(client, "/guardian/")
    frozen_clock.advance(timedelta(minutes=20))

    refused = client.post("/guardian/keep-alive", data={})  # no token: nothing done, not even the page's refresh
    assert refused.status_code == 303
    forged = client.post("/guardian/keep-alive", data={"csrf_token": token + "x"})
    assert forged.status_code == 303
    assert _staff_row(app).last_seen_at == frozen_clock.utcnow() - timedelta(minutes=20)

    kept = client.post("/guardian/keep-alive", data={"csrf_token": token})
    assert kept.status_code == 204 and kept.get_data() == b""
    assert kept.headers["Speakup-Seconds-Left"] == str(30 * 60)
    assert _staff_row(app).last_seen_at == frozen_clock.utcnow()
    again = client.post("/guardian/keep-alive", data={"csrf_token": token})  # the same page may ask again
    assert again.status_code == 204

    frozen_clock.advance(timedelta(minutes=25))  # 45 minutes after the page: still signed in
    assert client.get("/guardian/").status_code == 200


def test_stay_signed_in_needs_a_live_session(app: Flask, client: FlaskClient, frozen_clock):
    gita = gen_staff(app)
    AuthActions(client).signed_in(gita)
    token = csrf_token(client, "/guardian/")
    frozen_clock.advance(timedelta(minutes=31))
    late = client.post("/guardian/keep-alive", data={"csrf_token": token})
    assert late.status_code == 303 and late.location == "/guardian/sign-in"
    assert client.get("/guardian/").status_code == 302
    stranger = app.test_client()
    assert stranger.post("/guardian/keep-alive", data={"csrf_token": token}).status_code == 303


@pytest.mark.parametrize("app_overrides", [{"STAFF_ABSOLUTE_HOURS": 1}], indirect=True)
def test_stay_signed_in_never_moves_the_absolute_limit(app: Flask, client: FlaskClient, frozen_clock):
    AuthActions(client).signed_in(gen_staff(app))
    for _ in range(2):
        frozen_clock.advance(timedelta(minutes=25))
        page = client.get("/guardian/").get_data(as_text=True)
        kept = client.post("/guardian/keep-alive", data={"csrf_token": found(CSRF_RE, page)})
        assert kept.status_code == 204
    page = client.get("/guardian/").get_data(as_text=True)
    assert _number(page, "data-absolute-seconds-left") == 10 * 60  # an hour after signing in, whatever was kept
    assert "the longest a session can last, so you cannot stay signed in" in page
    frozen_clock.advance(timedelta(minutes=11))
    ended = client.post("/guardian/keep-alive", data={"csrf_token": found(CSRF_RE, page)})
    assert ended.status_code == 303 and ended.location == "/guardian/sign-in"
    assert client.get("/guardian/").status_code == 302


@pytest.mark.parametrize("app_overrides", [{"STAFF_ABSOLUTE_HOURS": 1}], indirect=True)
def test_stay_signed_in_says_the_time_left_before_the_absolute_limit_when_that_is_nearer(
    app: Flask, client: FlaskClient, frozen_clock
):
    """Review finding F4: 50 minutes into a session that lasts an hour, "Stay signed in" starts the idle time again
    (30 minutes), but the session ends in 10: the answer says 10."""
    AuthActions(client).signed_in(gen_staff(app))
    frozen_clock.advance(timedelta(minutes=25))
    page = client.get("/guardian/").get_data(as_text=True)
    frozen_clock.advance(timedelta(minutes=25))
    kept = client.post("/guardian/keep-alive", data={"csrf_token": found(CSRF_RE, page)})
    assert kept.status_code == 204
    assert int(kept.headers["Speakup-Seconds-Left"]) == 10 * 60


def test_stay_signed_in_on_the_reporters_page(app: Flask, frozen_clock: ModuleType):
    reporter = following_up(app, gen_concern(app.test_client())["access_code"])
    token = found(CSRF_RE, reporter.get("/follow-up/case").get_data(as_text=True))
    frozen_clock.advance(timedelta(minutes=10))
    assert reporter.post("/follow-up/keep-alive", data={}).status_code == 303  # no token: nothing done
    assert _reporter_row(app).last_seen_at < frozen_clock.minute_now()
    kept = reporter.post("/follow-up/keep-alive", data={"csrf_token": token})
    assert kept.status_code == 204
    assert _reporter_row(app).last_seen_at == frozen_clock.minute_now()  # to the minute, as always
    assert 14 * 60 <= int(kept.headers["Speakup-Seconds-Left"]) <= 15 * 60
    frozen_clock.advance(timedelta(minutes=10))  # 20 minutes after the page: still open
    assert reporter.get("/follow-up/case").status_code == 200

    frozen_clock.advance(timedelta(minutes=16))
    late = reporter.post("/follow-up/keep-alive", data={"csrf_token": token})
    assert late.status_code == 303 and late.location == "/follow-up/signed-out"  # ended, as the page would end it
    assert "You have been signed out of your concern" in reporter.get(late.location).get_data(as_text=True)


def test_the_reporters_page_ends_itself_on_the_signed_out_page(app: Flask, frozen_clock: ModuleType):
    code = gen_concern(app.test_client())["access_code"]
    reporter = following_up(app, code)
    token = found(CSRF_RE, reporter.get("/follow-up/case").get_data(as_text=True))
    early = reporter.post("/follow-up/time-out", data={"csrf_token": token})  # another tab kept it going
    assert early.status_code == 303 and early.location == "/follow-up/case"

    token = found(CSRF_RE, reporter.get("/follow-up/case").get_data(as_text=True))
    frozen_clock.advance(timedelta(minutes=16))
    ended = reporter.post("/follow-up/time-out", data={"csrf_token": token})
    assert ended.status_code == 303 and ended.location == "/follow-up/signed-out"
    assert ended.headers["Clear-Site-Data"] == '"cache", "storage"'
    page = reporter.get("/follow-up/signed-out").get_data(as_text=True)
    assert "You have been signed out of your concern" in page and NOTICE_REPORTER[16:-1] not in page
    assert "we sign you out after 15 minutes without activity" in page and REPLY_NOT_KEPT in page
    assert reporter.get("/follow-up/case").status_code == 302  # nothing opens
