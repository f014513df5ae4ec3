"""Issue 26, point 1, part 3: a guardian whose session timed out while they were writing gets their words back
after signing in again, on the same page, and nobody else does. Meanwhile the words are sealed to the guardian's own
public key (speakup/domain/time_outs.py): in no table in plain, and opened only by the private key their password
unlocks. Whether the words come with a form sent after the time-out (JavaScript off) or from the page's script when
its time ran out (JavaScript on, ``/guardian/time-out``), the server does the same."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from types import ModuleType

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from support.factories import Staff, gen_concern, gen_staff
from support.html import AuthActions, case_address, csrf_token
from support.present import found, nowhere_in_plain

from speakup.domain import time_outs
from speakup.platform.models import FormPost, db

WORDS = "Thank you for telling us about the night shift on ward 9; I will call you on Tuesday."
NOTE = "Checked the rota for ward 9: three nights short."


def _held_slots(app: Flask) -> int:
    with app.app_context():
        return len([row for row in db.session.scalars(select(FormPost)) if row.target == "" and row.kept_ct])


@pytest.fixture
def gita(app: Flask) -> Staff:
    return gen_staff(app, email="gita@example.org", name="Gita Guardian")


@pytest.fixture
def case_url(app: Flask, gita: Staff) -> str:
    reference = gen_concern(app.test_client())["reference"]
    return case_address(app, reference)


def _writing_then_away(client: FlaskClient, gita: Staff, url: str, clock: ModuleType) -> str:
    """Gita opens the page and writes; 31 minutes pass. The page's form token."""
    AuthActions(client).signed_in(gita)
    token = csrf_token(client, url)
    clock.advance(timedelta(minutes=31))
    return token


def _comes_back(app: Flask, client: FlaskClient, gita: Staff, url: str, words: str, field: str) -> None:
    """Back on her page after signing in, the words are shown apart from the form, as not sent, for her to check and
    copy: never put in the form, where one press of its button would send what someone else may have typed."""
    signed_in = AuthActions(client).sign_in(gita)
    assert signed_in.status_code == 303 and signed_in.location == url
    page = client.get(url).get_data(as_text=True)
    shown = found(r'(?s)<div class="nhsuk-warning-callout" id="unsent-at-time-out">(.*?)</div>', page)
    assert "These words were typed on this page after you were signed out, or just before, and were not sent" in shown
    assert html.escape(words, quote=False) in shown or html.escape(words) in shown
    assert re.search(r"<textarea[^>]*readonly[^>]*>", shown)
    assert re.search(rf'<textarea[^>]* name="{field}"[^>]*></textarea>', page)  # the form's own box: empty
    assert f'href="#{field}"' not in page  # nor is it an error of the form's
    assert _held_slots(app) == 0  # taken: the sealed copy is gone
    nowhere_in_plain(app, words)


def test_a_message_sent_after_the_time_out_comes_back_after_sign_in(
    app: Flask, client: FlaskClient, gita: Staff, case_url: str, frozen_clock: ModuleType
):
    token = _writing_then_away(client, gita, case_url, frozen_clock)
    sent = client.post(f"{case_url}/messages", data={"csrf_token": token, "body": WORDS})
    assert sent.status_code == 303 and sent.location == "/guardian/sign-in"
    assert WORDS not in client.get("/guardian/sign-in").get_data(as_text=True)
    assert _held_slots(app) == 1
    nowhere_in_plain(app, WORDS)
    _comes_back(app, client, gita, case_url, WORDS, "body")
    # Shown once, on that screen: the next visit to the page has an empty box.
    client.get("/guardian/")
    assert WORDS not in client.get(case_url).get_data(as_text=True)


def test_words_the_page_hands_over_when_its_time_runs_out_come_back(
    app: Flask, client: FlaskClient, gita: Staff, case_url: str, frozen_clock: ModuleType
):
    token = _writing_then_away(client, gita, case_url, frozen_clock)
    ended = client.post(
        "/guardian/time-out",
        data={"csrf_token": token, "page": case_url, "form_action": f"{case_url}/notes", "note": NOTE},
    )
    assert ended.status_code == 303 and ended.location == "/guardian/sign-in"
    assert ended.headers["Clear-Site-Data"] == '"cache", "storage"'
    assert 'id="timed-out"' in client.get("/guardian/sign-in").get_data(as_text=True)
    nowhere_in_plain(app, NOTE)
    _comes_back(app, client, gita, case_url, NOTE, "note")


def test_stay_signed_in_sent_too_late_ends_the_session_with_the_words_kept(
    app: Flask, client: FlaskClient, gita: Staff, case_url: str, frozen_clock: ModuleType
):
    token = _writing_then_away(client, gita, case_url, frozen_clock)
    late = client.post(
        "/guardian/keep-alive",
        data={"csrf_token": token, "page": case_url, "form_action": f"{case_url}/messages", "body": WORDS},
    )
    assert late.status_code == 303 and late.location == "/guardian/sign-in"
    nowhere_in_plain(app, WORDS)
    _comes_back(app, client, gita, case_url, WORDS, "body")


def test_words_sent_from_a_page_left_on_screen_long_after_the_time_out_are_not_kept(
    app: Flask, client: FlaskClient, gita: Staff, case_url: str, frozen_clock: ModuleType
):
    """Review finding F3: Gita's case page is left on a shared screen (JavaScript off) and her session ends on the
    server. Someone sits down later, types a message and presses Send: it is not kept as hers, nor shown at her next
    sign-in. Only a send soon after the session's end (``time_outs.LATE_SEND_MINUTES``) can be her own."""
    AuthActions(client).signed_in(gita)
    token = csrf_token(client, case_url)
    frozen_clock.advance(timedelta(minutes=30 + time_outs.LATE_SEND_MINUTES + 1))
    sent = client.post(f"{case_url}/messages", data={"csrf_token": token, "body": WORDS})
    assert sent.status_code == 303 and sent.location == "/guardian/sign-in"
    assert _held_slots(app) == 0
    # The script's time-out form, sent as late (by hand), keeps nothing either.
    gita.steps_used = 0
    AuthActions(client).signed_in(gita)
    token = csrf_token(client, case_url)
    frozen_clock.advance(timedelta(minutes=30 + time_outs.LATE_SEND_MINUTES + 1))
    ended = client.post(
        "/guardian/time-out",
        data={"csrf_token": token, "page": case_url, "form_action": f"{case_url}/messages", "body": WORDS},
    )
    assert ended.status_code == 303 and ended.location == "/guardian/sign-in"
    assert _held_slots(app) == 0
    gita.steps_used = 0  # an hour on: the code's time step is new without counting on
    signed_in = AuthActions(client).sign_in(gita)
    assert signed_in.location == case_url  # the page she was on, but nothing typed on it
    page = client.get(case_url).get_data(as_text=True)
    assert WORDS not in page and 'id="unsent-at-time-out"' not in page


def test_a_late_send_after_stay_signed_in_is_measured_from_the_sessions_end(
    app: Flask, client: FlaskClient, gita: Staff, case_url: str, frozen_clock: ModuleType
):
    """The page was opened long ago, but "Stay signed in" (or another tab) kept the session going: the send is
    measured from the session's end, not from the page's opening."""
    AuthActions(client).signed_in(gita)
    token = csrf_token(client, case_url)
    frozen_clock.advance(timedelta(minutes=25))
    assert client.post("/guardian/keep-alive", data={"csrf_token": token}).status_code == 204
    frozen_clock.advance(timedelta(minutes=31))
    ended = client.post(
        "/guardian/time-out",
        data={"csrf_token": token, "page": case_url, "form_action": f"{case_url}/notes", "note": NOTE},
    )
    assert ended.status_code == 303 and ended.location == "/guardian/sign-in"
    _comes_back(app, client, gita, case_url, NOTE, "note")


def test_another_guardian_signing_in_there_gets_none_of_them(
    app: Flask, client: FlaskClient, gita: Staff, case_url: str, frozen_clock: ModuleType
):
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    token = _writing_then_away(client, gita, case_url, frozen_clock)
    client.post(f"{case_url}/messages", data={"csrf_token": token, "body": WORDS})
    signed_in = AuthActions(client).sign_in(bea)
    assert signed_in.location == "/guardian/"
    for url in ("/guardian/", case_url):
        assert WORDS not in client.get(url).get_data(as_text=True)
    assert _held_slots(app) == 1  # still Gita's, sealed to her key alone
    # On another computer, Bea's own browser: nothing either.
    other = app.test_client()
    AuthActions(other).signed_in(bea)
    assert WORDS not in other.get(case_url).get_data(as_text=True)


def test_a_slot_moved_to_another_account_opens_for_nobody(
    app: Flask, client: FlaskClient, gita: Staff, case_url: str, frozen_clock: ModuleType
):
    """A database writer who gives Bea's slot Gita's sealed words: Bea's key does not open them."""
    from speakup.platform import form_posts

    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    token = _writing_then_away(client, gita, case_url, frozen_clock)
    client.post(f"{case_url}/messages", data={"csrf_token": token, "body": WORDS})
    with app.test_request_context():
        gita_slot = db.session.get(FormPost, form_posts.account_lookup(gita.id))
        assert gita_slot is not None and gita_slot.kept_ct is not None
        form_posts.hold_for_account(bea.id, gita_slot.kept_ct)
        db.session.commit()
    other = app.test_client()
    assert AuthActions(other).sign_in(bea).location == "/guardian/"
    assert WORDS not in other.get(case_url).get_data(as_text=True)


def test_the_words_are_kept_no_longer_than_the_kept_form_minutes(
    app: Flask, client: FlaskClient, gita: Staff, case_url: str, frozen_clock: ModuleType
):
    token = _writing_then_away(client, gita, case_url, frozen_clock)
    client.post(f"{case_url}/messages", data={"csrf_token": token, "body": WORDS})
    frozen_clock.advance(timedelta(minutes=app.config["KEPT_FORM_MINUTES"] + 1))
    AuthActions(client).signed_in(gita)
    assert WORDS not in client.get(case_url).get_data(as_text=True)
    assert _held_slots(app) == 0


def test_a_page_whose_session_is_still_going_keeps_its_words_for_itself(
    app: Flask, client: FlaskClient, gita: Staff, case_url: str
):
    """The page's time ran out, but another tab kept the session going: back to the page, the words in its form."""
    AuthActions(client).signed_in(gita)
    token = csrf_token(client, case_url)
    answer = client.post(
        "/guardian/time-out",
        data={"csrf_token": token, "page": case_url, "form_action": f"{case_url}/messages", "body": WORDS},
    )
    assert answer.status_code == 303 and answer.location == case_url
    assert WORDS in client.get(case_url).get_data(as_text=True)
    assert _held_slots(app) == 0
    nowhere_in_plain(app, WORDS)


def test_the_time_out_page_goes_to_no_other_host(app: Flask, client: FlaskClient, gita: Staff):
    AuthActions(client).signed_in(gita)
    token = csrf_token(client, "/guardian/")
    answer = client.post("/guardian/time-out", data={"csrf_token": token, "page": "//evil.example/x"})
    assert answer.status_code == 303 and answer.location == "/guardian/"


def test_a_recorded_concerns_words_are_shown_as_not_sent_too(
    app: Flask, client: FlaskClient, gita: Staff, frozen_clock: ModuleType
):
    """Every form that keeps words at a time-out (a case's sections, recording a concern) gives them back the same
    way: apart from the form, as not sent."""
    account = "The night shift on ward 9 was three nurses short for a week."
    token = _writing_then_away(client, gita, "/guardian/record", frozen_clock)
    sent = client.post("/guardian/record", data={"csrf_token": token, "what_happened": account, "where": "Ward 9"})
    assert sent.status_code == 303 and sent.location == "/guardian/sign-in"
    nowhere_in_plain(app, account)
    _comes_back(app, client, gita, "/guardian/record", account, "what_happened")
    client.get("/guardian/")
    assert account not in client.get("/guardian/record").get_data(as_text=True)  # shown once, on that screen
