"""A guardian's forms are each answered once, and never with what was sent (for the shared computer).

A browser keeps the body of every form it sent and sends it again on Reload and Back, long after the guardian who
typed it has gone (a shared ward computer). So a second send of the same body does nothing twice and its answer, a
redirect, carries nothing typed; after sign-out the old body is refused without echo, whatever cookies come with it;
and a form that came back with errors shows its words only on its own page, to its own browser, until the guardian
goes elsewhere or signs out. Secrets typed (a password, a security code) are never kept, not even sealed.

Failing asserts never print a page: each names what leaked, not its text."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from support.factories import Staff, gen_concern
from support.html import ACCESS_CODE_RE, CSRF_RE, REFERENCE_RE, VERSION_RE, AuthActions, case_address, post_form
from support.present import found, scalar
from werkzeug.test import TestResponse

from speakup.domain import submissions
from speakup.platform import clock, form_posts
from speakup.platform.models import Case, CaseEvent, Message, Submission, db
from speakup.web import once
from speakup.web.forgetting import RECORDED

WORDS = "The theatre list was cut short and the patient was sent home unfixed. Bay 3."
NAME = "Jane Doe-Whistleblower"
MESSAGE = "Thank you: could you tell me which shift it was? Ring me on the ward."


def _token(client: FlaskClient, url: str) -> str:
    match = CSRF_RE.search(client.get(url).get_data(as_text=True))
    assert match, f"no form token on {url}"
    return match.group(1)


def _landing(client: FlaskClient, response: TestResponse) -> str:
    """Where a POST's redirect leads (every answer to a POST is a 303), as the browser shows it next."""
    assert response.status_code == 303, response.status_code
    return client.get(response.location).get_data(as_text=True)


def _echoes(response: TestResponse, *typed: str) -> list[str]:
    """Which of ``typed`` the answer carries (named by position, so a failure never prints them)."""
    body = response.get_data(as_text=True)
    return [f"typed[{i}]" for i, text in enumerate(typed) if text in body]


def _count(app: Flask, model, *where) -> int:
    with app.app_context():
        return scalar(select(func.count()).select_from(model).where(*where))


def _record_body(client: FlaskClient, **fields: str) -> dict[str, str]:
    return {
        "csrf_token": _token(client, "/guardian/record"),
        "channel": "in_person",
        "what_happened": WORDS,
        "anonymity": "confidential",
        "name": NAME,
        "contact": "07700 900456",
        "give_access_code": "yes",
        **fields,
    }


# --- (a) The same body sent twice does nothing twice and echoes nothing ------------------------------------------


def test_a_message_sent_twice_is_sent_once(app, signed):
    reference = gen_concern(signed)["reference"]
    url = f"/guardian/cases/{reference}"
    body = {"csrf_token": _token(signed, url), "body": MESSAGE}
    first = signed.post(f"{url}/messages", data=body)
    again = signed.post(f"{url}/messages", data=body)  # Reload, or Back and send again
    assert first.status_code == again.status_code == 303
    address = case_address(app, reference)  # where a case form's answer leads: its page by the case's id
    assert first.location == f"{address}#messages" and again.location == address  # where the first went
    assert _echoes(first, MESSAGE) == _echoes(again, MESSAGE) == []
    case_id = select(Case.id).where(Case.reference == reference).scalar_subquery()
    assert _count(app, Message, Message.case_id == case_id) == 1


def test_a_status_change_sent_twice_moves_the_case_once(app, signed):
    reference = gen_concern(signed)["reference"]
    url = f"/guardian/cases/{reference}"
    page = signed.get(url).get_data(as_text=True)
    body = {"csrf_token": found(CSRF_RE, page), "version": found(VERSION_RE, page)}
    first = signed.post(f"{url}/status", data={**body, "status": "acknowledged"})
    case_id = select(Case.id).where(Case.reference == reference).scalar_subquery()
    events = _count(app, CaseEvent, CaseEvent.case_id == case_id)
    # The same page's form sent again, even asking for another move: the first send's answer, nothing done.
    for status in ("acknowledged", "in_progress"):
        again = signed.post(f"{url}/status", data={**body, "status": status})
        assert again.status_code == 303 and again.location == first.location
    assert _count(app, CaseEvent, CaseEvent.case_id == case_id) == events
    with app.app_context():
        assert db.session.scalar(select(Case.status).where(Case.reference == reference)) == "acknowledged"
    # Nor is it refused as a conflict: the page after it says nothing went wrong.
    assert "There is a problem" not in _landing(signed, again)


def test_a_recorded_concern_sent_twice_is_recorded_once(app, signed):
    body = _record_body(signed)
    first = signed.post("/guardian/record", data=body)
    again = signed.post("/guardian/record", data=body)
    assert first.status_code == again.status_code == 303
    assert first.location == again.location == "/guardian/record/done"
    assert _echoes(first, WORDS, NAME) == _echoes(again, WORDS, NAME) == []
    assert ACCESS_CODE_RE.search(again.get_data(as_text=True)) is None
    assert _count(app, Case) == 1
    page = _landing(signed, again)  # the first send's reference and code, not a second concern's
    with app.app_context():
        assert found(REFERENCE_RE, page) == db.session.scalar(select(Case.reference))


def test_a_failed_form_sent_twice_comes_back_the_same_way(app, signed):
    body = _record_body(signed, what_happened="")
    first = signed.post("/guardian/record", data=body)
    again = signed.post("/guardian/record", data=body)
    assert first.location == again.location == "/guardian/record"
    assert _echoes(again, NAME) == []
    page = _landing(signed, again)
    assert "Enter what happened" in page and NAME in page  # the words kept for this browser, on its own page
    assert _count(app, Case) == 0


# --- (b) After sign-out, the old body is refused without echo, with the new cookies and with none ------------------


@pytest.mark.parametrize("cookies", ["after sign-out", "none"])
def test_a_recorded_concern_replayed_after_sign_out_echoes_nothing_and_records_nothing(app, signed, auth, cookies):
    body = _record_body(signed)
    recorded = signed.post("/guardian/record", data=body)
    assert _count(app, Case) == 1
    code = found(ACCESS_CODE_RE, _landing(signed, recorded))
    with app.app_context():
        reference = scalar(select(Case.reference))
    auth.sign_out()
    browser = signed if cookies == "after sign-out" else app.test_client()
    replayed = browser.post("/guardian/record", data=body)
    secrets = (WORDS, NAME, code, reference)
    assert replayed.status_code in (302, 303) and _echoes(replayed, *secrets) == []
    # Nor does anything the browser is sent to next: it is never signed in again by the old body.
    followed = browser.get(replayed.location)
    while followed.status_code in (302, 303):
        followed = browser.get(followed.location)
    assert _echoes(followed, *secrets) == []
    assert "/guardian/sign-in" in followed.request.path
    assert browser.get("/guardian/record/done").status_code == 302  # to sign in: no slot survives
    assert _count(app, Case) == 1


def test_the_recorded_page_shows_nothing_after_sign_out(app, signed, auth, guardian):
    recorded = signed.post("/guardian/record", data=_record_body(signed))
    assert ACCESS_CODE_RE.search(_landing(signed, recorded))
    auth.sign_out()
    assert auth.sign_in(guardian).status_code == 303
    page = signed.get("/guardian/record/done")
    assert page.status_code == 302 and page.location == "/guardian/record"  # the slot went with the session


# --- (c) A failed form's words are shown only on its page, to its browser, until the guardian moves on ------------


def test_a_failed_message_is_not_shown_after_going_elsewhere(app, signed):
    reference = gen_concern(signed)["reference"]
    url = f"/guardian/cases/{reference}"
    long = MESSAGE * 300  # too long: refused, and kept
    refused = post_form(signed, url, f"{url}/messages", body=long)
    assert _echoes(refused, MESSAGE) == []
    # Its own page is the one the answer led to: the case's page at its id, as the pages link it, whatever
    # address the form was sent from. What is kept for the form is kept for that address.
    address = case_address(app, reference)
    assert refused.location.split("#")[0] == address
    page = _landing(signed, refused)
    assert ('id="body-error"' in page, MESSAGE in page) == (True, True), "the refused message is not kept on its page"
    reloaded = MESSAGE in signed.get(refused.location).get_data(as_text=True)
    assert reloaded, "reloading its own page no longer shows it"
    elsewhere = MESSAGE in app.test_client().get(address).get_data(as_text=True)
    assert not elsewhere, "shown to another browser"
    signed.get("/guardian/")
    page = signed.get(address).get_data(as_text=True)
    assert (MESSAGE in page, 'id="body-error"' in page) == (False, False), "still shown after going elsewhere"


def test_a_failed_record_form_is_not_shown_after_going_elsewhere(app, signed):
    refused = signed.post("/guardian/record", data=_record_body(signed, channel=""))
    assert NAME in _landing(signed, refused)
    signed.get("/guardian/")
    page = signed.get("/guardian/record").get_data(as_text=True)
    assert NAME not in page and WORDS not in page and "There is a problem" not in page


def test_a_failed_form_is_not_shown_after_sign_out(app, signed, auth, guardian):
    refused = signed.post("/guardian/record", data=_record_body(signed, channel=""))
    assert refused.location == "/guardian/record"
    auth.sign_out()
    assert auth.sign_in(guardian).status_code == 303
    page = signed.get("/guardian/record").get_data(as_text=True)
    assert NAME not in page and WORDS not in page


def test_a_failed_form_is_not_shown_after_kept_form_minutes(app, signed):
    refused = signed.post("/guardian/record", data=_record_body(signed, channel=""))
    assert NAME in _landing(signed, refused)
    with app.app_context():
        since = clock.utcnow() - timedelta(minutes=app.config["KEPT_FORM_MINUTES"] + 1)
        db.session.execute(update(form_posts.FormPost).values(kept_at=since))
        db.session.commit()
    assert NAME not in signed.get("/guardian/record").get_data(as_text=True)


# --- Secrets typed are never kept --------------------------------------------------------------------------------


def _kept(app: Flask, client: FlaskClient) -> form_posts.Kept:
    """What the server keeps sealed for this browser, opened with the secret its cookie holds."""
    with client.session_transaction() as session:
        browser, pointer = session[once.BROWSER], session[once.KEPT]
    with app.app_context():
        found = form_posts.open_kept(pointer["nonce"], browser)
    assert found is not None, "nothing kept"
    return found


def test_a_failed_sign_in_keeps_the_email_and_never_the_password_or_code(app, client, auth, guardian):
    guardian.password = "not the password at all, but close"
    refused = auth.sign_in(guardian, code="123456")
    assert refused.location == "/guardian/sign-in"
    assert _echoes(refused, guardian.password, guardian.email) == []
    kept = _kept(app, client)
    assert kept.values["email"] == guardian.email
    assert kept.values["password"] == "" and kept.values["security_code"] == ""
    page = client.get("/guardian/sign-in").get_data(as_text=True)
    assert f'value="{guardian.email}"' in page and guardian.password not in page and "123456" not in page


NOTHING_LISTENS = "redis://127.0.0.1:1/0"  # port 1: the rate-limit store refuses every connection at once


@pytest.mark.parametrize(
    "app_overrides", [{"RATELIMIT_STORAGE_URI": NOTHING_LISTENS, "RATELIMIT_STORAGE_TIMEOUT": 1}], indirect=True
)
def test_with_the_limit_store_down_sign_in_goes_back_keeping_only_the_email(app, client, guardian):
    """Fails closed, as before, but answered like any refused form: a redirect, the message by the form."""
    data = {
        "csrf_token": _token(client, "/guardian/sign-in"),
        "email": guardian.email,
        "password": guardian.password,
        "security_code": guardian.security_code(),
    }
    answer = client.post("/guardian/sign-in", data=data)
    assert answer.status_code == 303 and answer.location == "/guardian/sign-in"
    assert _echoes(answer, guardian.email, guardian.password) == []
    page = client.get(answer.location).get_data(as_text=True)
    assert "We cannot check sign-ins just now" in page and f'value="{guardian.email}"' in page
    assert guardian.password not in page and data["security_code"] not in page
    assert client.get("/guardian/").status_code == 302  # not signed in: the store could not count the try


@pytest.mark.parametrize("app_overrides", [{"SIGN_IN_RATE_LIMIT": "2 per minute"}], indirect=True)
def test_failed_sign_ins_still_count_and_good_ones_do_not(app, guardian):
    # Each answer is a 303 now, so the limit cannot tell them apart by status: the view says which failed.
    right = [AuthActions(app.test_client()).sign_in(guardian).location for _ in range(2)]
    assert right == ["/guardian/"] * 2
    wrong = Staff(guardian.id, guardian.email, "not the password", guardian.totp_secret)
    browsers = [app.test_client() for _ in range(3)]
    answers = [AuthActions(browser).sign_in(wrong, code="000000") for browser in browsers]
    assert [(answer.status_code, answer.location) for answer in answers] == [(303, "/guardian/sign-in")] * 3
    pages = [browser.get("/guardian/sign-in").get_data(as_text=True) for browser in browsers]
    assert ["Too many tries" in page for page in pages] == [False, False, True]


def test_a_password_change_keeps_only_its_messages(app, signed):
    refused = post_form(
        signed, "/guardian/account/password", current_password="my old guess here", new_password="tiny pw 7"
    )
    assert refused.location == "/guardian/account/password"
    assert _echoes(refused, "my old guess here", "tiny pw 7") == []
    kept = _kept(app, signed)
    assert set(kept.values.values()) == {""} and kept.errors
    page = _landing(signed, refused)
    assert "There is a problem" in page and "my old guess here" not in page and "tiny pw 7" not in page


def test_a_password_changed_says_so_after_its_redirect(app, signed, guardian):
    new = "a brand new passphrase for the ward"
    done = post_form(signed, "/guardian/account/password", current_password=guardian.password, new_password=new)
    assert done.location == "/guardian/account/password" and _echoes(done, new, guardian.password) == []
    page = _landing(signed, done)
    assert "Your password has been changed" in page and new not in page
    assert "Your password has been changed" not in signed.get("/guardian/account/password").get_data(as_text=True)


# --- The recorded concern's page -----------------------------------------------------------------------------------


def _recorded(app: Flask, client: FlaskClient, **fields: str) -> str:
    return _landing(client, client.post("/guardian/record", data=_record_body(client, **fields)))


def test_the_recorded_page_shows_the_code_until_it_is_handed_over(app, signed):
    page = _recorded(app, signed)
    reference, code = found(REFERENCE_RE, page), found(ACCESS_CODE_RE, page)
    title = found(r"<title>(.*?)</title>", page, re.S)
    assert reference not in title and "Concern recorded" in title
    again = signed.get("/guardian/record/done").get_data(as_text=True)  # Reload
    assert code in again and reference in again
    handed = post_form(signed, "/guardian/record/done", "/guardian/record/done")
    assert handed.location == "/guardian/" and _echoes(handed, code, reference) == []
    assert "no longer shown" in _landing(signed, handed)
    gone = signed.get("/guardian/record/done")
    assert gone.status_code == 302 and code not in gone.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Submission.answer_ct)) is None


def test_the_recorded_page_stops_showing_the_code_after_confirmation_minutes(app, signed):
    page = _recorded(app, signed)
    code = found(ACCESS_CODE_RE, page)
    with app.app_context():
        since = clock.utcnow() - timedelta(minutes=app.config["CONFIRMATION_MINUTES"] + 1)
        db.session.execute(update(Submission).values(created_at=since))
        db.session.commit()
    later = signed.get("/guardian/record/done").get_data(as_text=True)
    assert code not in later and 'id="code-gone"' in later and 'id="case-reference"' not in later


def test_a_code_nobody_asked_for_is_never_kept(app, signed):
    page = _recorded(app, signed, give_access_code="")
    assert ACCESS_CODE_RE.search(page) is None and REFERENCE_RE.search(page)
    with signed.session_transaction() as session:
        token = session[RECORDED]
    with app.app_context():
        done = submissions.find(submissions.from_form(token))
        assert done is not None and done.answer is not None and done.answer.access_code == ""
