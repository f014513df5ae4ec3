"""Check your answers (/raise/check): the raise form's "Continue" shows every answer and raises nothing; "Change"
keeps every answer (the file too); "Submit concern" raises exactly once; nothing typed is echoed in a POST's answer
or put in the page's form. "Exit this page" is on every page of someone raising or following up a concern."""

from __future__ import annotations

import html
import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select
from support.apps import make_app
from support.html import (
    ACCESS_CODE_RE,
    ANSWERS_RE,
    CSRF_RE,
    SUBMISSION_RE,
    following_up,
    send_raise_form,
    submit_checked_answers,
)
from support.present import found, scalar

from speakup import ConfigurationError
from speakup.domain import checking
from speakup.platform.models import Attachment, Case

WHAT = "The night shift rota leaves ward 7 with one nurse"
WHERE = "Ward 7, north wing"
WHEN = "Every weekend since March"
NAME = "Priya Okafor-Lindqvist"
CONTACT = "priya.ol@example.org"
FILE_NAME = "rota.png"
EXIT_URL = "https://weather.example.org/today"


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def _cases(app: Flask) -> int:
    with app.app_context():
        return scalar(select(func.count()).select_from(Case))


def _continue(client: FlaskClient, with_file: bool = True, **fields: str):
    """The raise form's "Continue", as a browser sends it (the page's tokens and its step marker)."""
    page = client.get("/raise").get_data(as_text=True)
    form: dict[str, object] = {
        "csrf_token": found(CSRF_RE, page),
        "submission": found(SUBMISSION_RE, page),
        "step": "check",
        "what_happened": WHAT,
        "where": WHERE,
        "when": WHEN,
        "anonymity": "confidential",
        "name": NAME,
        "contact": CONTACT,
        "worker_group": "registered_nurses_and_midwives",
        "age_band": "35_44",
        **fields,
    }
    if with_file:
        form["attachment"] = (io.BytesIO(_png()), FILE_NAME, "image/png")
    return client.post("/raise", data=form, content_type="multipart/form-data")


def test_continue_shows_every_answer_and_raises_nothing(app: Flask, client: FlaskClient) -> None:
    sent = _continue(client)
    assert sent.status_code == 303 and sent.location == "/raise/check"
    # Nothing typed comes back in the answer to the POST (the browser would keep it in History).
    body = sent.get_data(as_text=True)
    for words in (WHAT, WHERE, NAME, CONTACT, FILE_NAME):
        assert words not in body
    check = client.get("/raise/check")
    page = html.unescape(check.get_data(as_text=True))
    assert check.status_code == 200 and "no-store" in check.headers["Cache-Control"]
    for words in (WHAT, WHERE, WHEN, NAME, CONTACT, FILE_NAME, "Confidentially", "35 to 44", "Registered nurses"):
        assert words in page, words
    assert str(checking.MEANINGS["confidential"]) in page and "You cannot change this after you send" in page
    # The form on the page carries only its tokens: nothing typed in a hidden field, kept in the History's cache.
    form = page[page.index('<form method="post"') :]
    assert set(re.findall(r'name="([^"]+)"', form)) == {"csrf_token", "submission", "answers"}
    assert ">Submit concern</button>" in page
    for field in ("what_happened", "where", "when", "worker_group", "anonymity", "name", "contact", "attachment"):
        assert f'href="/raise#{field}"' in page, field
    assert _cases(app) == 0


def test_change_keeps_every_answer_and_the_file(app: Flask, client: FlaskClient) -> None:
    _continue(client)
    client.get("/raise/check")
    form = html.unescape(client.get("/raise").get_data(as_text=True))  # "Change" leads here
    for words in (WHAT, WHERE, WHEN, NAME, CONTACT):
        assert words in form, words
    assert 'value="confidential" aria-describedby="anonymity-confidential-hint" checked' in form
    assert f'Your file <strong class="speakup-text">{FILE_NAME}</strong> is kept' in form
    # Continue again, changing one answer and choosing no file: the file is still there.
    _continue(client, with_file=False, where="Ward 8")
    page = html.unescape(client.get("/raise/check").get_data(as_text=True))
    assert "Ward 8" in page and WHAT in page and FILE_NAME in page
    # "Remove the file" takes it out.
    _continue(client, with_file=False, remove_file="1")
    page = client.get("/raise/check").get_data(as_text=True)
    assert FILE_NAME not in page and str(checking.NO_FILE) in page
    assert _cases(app) == 0


def test_submit_raises_exactly_once_and_a_replay_raises_nothing(app: Flask, client: FlaskClient) -> None:
    _continue(client)
    check_page = client.get("/raise/check").get_data(as_text=True)
    body = {
        "csrf_token": found(CSRF_RE, check_page),
        "submission": found(SUBMISSION_RE, check_page),
        "answers": found(ANSWERS_RE, check_page),
    }
    first = client.post("/raise/check", data=body)
    assert first.status_code == 303 and first.location == "/raise/sent"
    code = found(ACCESS_CODE_RE, client.get("/raise/sent").get_data(as_text=True)).strip()
    assert _cases(app) == 1
    with app.app_context():
        assert scalar(select(func.count()).select_from(Attachment)) == 1
    # A double click, Reload or Back and send again: the same confirmation, nothing more raised, nothing echoed.
    again = client.post("/raise/check", data=body)
    assert again.status_code == 303 and again.location == "/raise/sent"
    for words in (WHAT, NAME, CONTACT):
        assert words not in again.get_data(as_text=True)
    assert found(ACCESS_CODE_RE, client.get("/raise/sent").get_data(as_text=True)).strip() == code
    assert _cases(app) == 1
    # What was raised is what was checked.
    case_page = html.unescape(following_up(app, code).get("/follow-up/case").get_data(as_text=True))
    assert WHAT in case_page


def test_the_helper_raises_through_the_check_step(app: Flask, client: FlaskClient) -> None:
    landed = send_raise_form(client, what_happened=WHAT, anonymity="anonymous")
    assert landed.request.path == "/raise/sent" and _cases(app) == 1


def test_a_refused_field_goes_back_to_the_form_by_its_field(app: Flask, client: FlaskClient) -> None:
    sent = _continue(client, anonymity="anonymous")  # a name and a contact given with "Anonymously"
    assert sent.status_code == 303 and sent.location == "/raise"
    form = html.unescape(client.get("/raise").get_data(as_text=True))
    assert '<a href="#name">' in form and '<a href="#contact">' in form
    assert WHAT in form  # every word kept
    # The file passed: it is kept with the words, not asked for again.
    assert f'Your file <strong class="speakup-text">{FILE_NAME}</strong> is kept' in form
    assert client.get("/raise/check").location == "/raise"  # no check page for answers that failed
    assert _cases(app) == 0


def test_submit_without_kept_answers_raises_nothing(app: Flask, client: FlaskClient) -> None:
    _continue(client)
    check_page = client.get("/raise/check").get_data(as_text=True)
    client.get("/")  # went elsewhere: the kept answers go
    answer = submit_checked_answers(client, check_page)
    assert answer.request.path == "/raise" and "nothing was sent" in answer.get_data(as_text=True)
    assert _cases(app) == 0


def test_a_direct_send_without_the_step_still_raises_at_once(app: Flask, client: FlaskClient) -> None:
    """The stable interface: a script that posts the form's fields to /raise gets the confirmation."""
    page = client.get("/raise").get_data(as_text=True)
    sent = client.post(
        "/raise",
        data={"csrf_token": found(CSRF_RE, page), "what_happened": WHAT, "anonymity": "anonymous"},
    )
    assert sent.status_code == 303 and sent.location == "/raise/sent" and _cases(app) == 1


@pytest.mark.parametrize("app_overrides", [{"EXIT_PAGE_URL": EXIT_URL}], indirect=True)
def test_exit_this_page_is_on_every_reporter_page_and_uses_the_setting(app: Flask, client: FlaskClient) -> None:
    link = f'<a href="{EXIT_URL}" role="button"'
    _continue(client)
    pages = ["/raise/check", "/raise", "/", "/other-ways", "/privacy", "/accessibility", "/follow-up"]  # check first
    check_page = client.get("/raise/check").get_data(as_text=True)
    for path in pages:
        assert link in client.get(path).get_data(as_text=True), path
    _continue(client)
    submit_checked_answers(client, client.get("/raise/check").get_data(as_text=True))
    assert link in check_page
    confirmation = client.get("/raise/sent").get_data(as_text=True)
    assert link in confirmation
    code = found(ACCESS_CODE_RE, confirmation).strip()
    assert link in following_up(app, code).get("/follow-up/case").get_data(as_text=True)
    assert link not in app.test_client().get("/guardian/sign-in").get_data(as_text=True)


@pytest.mark.parametrize("app_overrides", [{"EXIT_PAGE_URL": EXIT_URL}], indirect=True)
def test_exit_forgets_the_kept_answers_and_leaves(app: Flask, client: FlaskClient) -> None:
    _continue(client)
    assert client.get("/raise/check").status_code == 200
    left = client.get("/exit")
    assert left.status_code == 303 and left.location == EXIT_URL
    assert client.get("/raise/check").location == "/raise"
    assert WHAT not in html.unescape(client.get("/raise").get_data(as_text=True))


@pytest.mark.parametrize("url", ["javascript:alert(1)", "www.bbc.co.uk/weather", "https://", "/weather", ""])
def test_an_exit_page_that_is_not_a_web_address_is_refused_at_start_up(database_url: str, url: str) -> None:
    with pytest.raises(ConfigurationError, match="SPEAKUP_EXIT_PAGE_URL"):
        make_app(database_url, EXIT_PAGE_URL=url)


def test_answers_changed_in_another_tab_are_shown_again_before_sending(app: Flask, client: FlaskClient) -> None:
    _continue(client)
    first_tab = client.get("/raise/check").get_data(as_text=True)
    _continue(client, with_file=False, what_happened="Something else entirely")  # a second tab's Continue
    answer = submit_checked_answers(client, first_tab)
    page = html.unescape(answer.get_data(as_text=True))
    assert answer.request.path == "/raise/check" and "changed in another tab" in page
    assert "Something else entirely" in page and _cases(app) == 0


BACK_BUTTON = (
    "To change an answer, use its Change link or the Back link at the top of this page. Do not use your browser's "
    "back button: it may clear your answers, so that the next person to use this computer cannot see them."
)


def test_the_page_says_to_change_answers_with_its_own_links(client: FlaskClient) -> None:
    """A raise form opened afresh (typed, a bookmark, History) is answered empty when the browser's Back button
    fetches it again (no-store; Chromium sends it as the first opening was, Sec-Fetch-Site: none), and its kept
    answers go: the next person at the computer may be the one pressing Back. So the page says, before any answer,
    which links keep them (tests/system/test_browser_check_back.py shows the browser doing so)."""
    _continue(client)
    page = client.get("/raise/check").get_data(as_text=True)
    said = found(r'<div class="nhsuk-inset-text" id="change-answers">\s*(.*?)\s*</div>', page, re.S)
    assert html.unescape(re.sub(r"<[^>]+>", "", said)) == BACK_BUTTON
    main = page.split('id="maincontent"')[1]
    assert main.index("<h1>") < main.index('id="change-answers"') < main.index('id="answers-concern"')
