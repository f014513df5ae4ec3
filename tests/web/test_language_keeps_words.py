"""Choosing a language on a page with a half-filled form keeps what was typed (issue 28): without JavaScript the
chooser there is a row of submit buttons tied to the page's form, whose POST keeps the words as a form that came
back keeps them (speakup/web/once.py) and brings the same page back in the chosen language."""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select
from support.apps import install_organisation_keys, make_app
from support.catalogues import directories_with, install_catalogue
from support.html import CSRF_RE, SUBMISSION_RE
from support.present import found

from speakup.platform.models import db

WORDS = "The night shift on ward 7 is left with one nurse, week after week"
WHERE = "Ward 7, north wing"
BUTTON_RE = re.compile(r"<button[^>]*name=\"language\"[^>]*>")
# A chooser button that sends a page's own form (``form=``), as against the chooser's own small form's buttons.
FORM_BUTTON_RE = re.compile(r"<button[^>]*form=\"[^\"]+\"[^>]*name=\"language\"[^>]*>")


@pytest.fixture
def esperanto(database_url: str, tmp_path: Path) -> Flask:
    folder = install_catalogue(tmp_path / "translations", "eo", {"Skip to main content": "Saltu al la enhavo"})
    return make_app(database_url, LANGUAGES=["en", "eo"], BABEL_TRANSLATION_DIRECTORIES=directories_with(folder))


def _every_row(app: Flask) -> dict[str, list[tuple[object, ...]]]:
    with app.app_context(), db.engine.connect() as connection:
        return {
            table.name: [tuple(row) for row in connection.execute(select(table))] for table in db.metadata.sorted_tables
        }


def test_the_raise_form_offers_buttons_that_send_it(esperanto: Flask) -> None:
    page = esperanto.test_client().get("/raise").get_data(as_text=True)
    button = BUTTON_RE.search(page)
    assert button, "no chooser button on the raise form"
    for attribute in ('form="raise-form"', 'formaction="?"', 'formmethod="post"', 'value="eo"', 'lang="eo"',
                      'formenctype="application/x-www-form-urlencoded"', "formnovalidate"):  # fmt: skip
        assert attribute in button.group(0)
    assert '<form id="raise-form"' in page and "speakup-languages__form" not in page
    # A page without such a form has the chooser's own form, whose buttons send nothing of the page's.
    home = esperanto.test_client().get("/").get_data(as_text=True)
    assert 'class="speakup-languages__form"' in home and not re.search(r'<button[^>]*name="language"[^>]*form=', home)


def test_half_filled_raise_form_comes_back_in_the_new_language_with_its_words(esperanto: Flask, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    client = esperanto.test_client()
    page = client.get("/raise").get_data(as_text=True)
    token, submission = CSRF_RE.search(page), SUBMISSION_RE.search(page)
    assert token and submission
    before = _every_row(esperanto)
    data = {"csrf_token": token.group(1), "submission": submission.group(1), "step": "check",
            "what_happened": WORDS, "where": WHERE, "anonymity": "anonymous", "language": "eo"}  # fmt: skip
    chosen = client.post("/raise", data=data)
    assert (chosen.status_code, chosen.location) == (303, "/raise")
    again = client.get("/raise").get_data(as_text=True)
    assert '<html lang="eo" dir="ltr">' in again and "Saltu al la enhavo" in again
    assert WORDS in again and f'value="{WHERE}"' in again
    assert re.search(r'value="anonymous"[^>]*checked', again)
    assert "nhsuk-error-summary" not in again  # kept as typed, not as a form with errors
    # Nothing of the choice is stored beyond one kept form's row (sealed words under a hashed nonce), nothing logged.
    after = _every_row(esperanto)
    changed = {name for name in after if after[name] != before.get(name)}
    assert changed <= {"form_posts"}, changed
    assert len(after["form_posts"]) == len(before["form_posts"]) + 1
    assert not any(WORDS in repr(row) or "eo" in [*row] for rows in after.values() for row in rows)
    assert WORDS not in caplog.text and WHERE not in caplog.text
    # The words are the form's: the next page they are not for forgets them, and the language stays for the visit.
    client.get("/")
    later = client.get("/raise").get_data(as_text=True)
    assert WORDS not in later and '<html lang="eo"' in later


def test_a_refused_token_keeps_nothing_but_the_page_comes_back(esperanto: Flask) -> None:
    client = esperanto.test_client()
    client.get("/raise")
    chosen = client.post("/raise", data={"csrf_token": "forged", "what_happened": WORDS, "language": "eo"})
    assert chosen.status_code == 303
    assert WORDS not in client.get("/raise").get_data(as_text=True)


def test_a_form_posted_elsewhere_with_a_language_field_is_its_own_views(esperanto: Flask) -> None:
    """Only a page registered with keeps_words treats ``language`` as the chooser: /follow-up keeps its own view."""
    client = esperanto.test_client()
    page = client.get("/follow-up").get_data(as_text=True)
    token = CSRF_RE.search(page)
    assert token
    client.post("/follow-up", data={"csrf_token": token.group(1), "language": "eo"})
    assert '<html lang="en"' in client.get("/follow-up").get_data(as_text=True)


def test_a_file_kept_with_the_raise_forms_words_stays_with_them(esperanto: Flask) -> None:
    """Back from "Check your answers" ("Change"), the chosen file is kept with the words; choosing a language sends
    no file (the buttons send the form as plain fields) and the file stays kept."""
    client = esperanto.test_client()
    page = client.get("/raise").get_data(as_text=True)
    form: dict[str, object] = {"csrf_token": found(CSRF_RE, page), "submission": found(SUBMISSION_RE, page),
                               "step": "check", "what_happened": WORDS, "anonymity": "anonymous",
                               "attachment": (io.BytesIO(_png()), "rota.png", "image/png")}  # fmt: skip
    assert client.post("/raise", data=form, content_type="multipart/form-data").location == "/raise/check"
    change = client.get("/raise").get_data(as_text=True)
    assert "rota.png" in change
    data = {"csrf_token": found(CSRF_RE, change), "submission": found(SUBMISSION_RE, change), "step": "check",
            "what_happened": WORDS, "anonymity": "anonymous", "attachment": "", "language": "eo"}  # fmt: skip
    assert client.post("/raise", data=data).location == "/raise"
    again = client.get("/raise").get_data(as_text=True)
    assert '<html lang="eo"' in again and WORDS in again and 'id="attachment-kept"' in again and "rota.png" in again


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def test_a_form_with_a_file_is_never_read_by_the_chooser(esperanto: Flask) -> None:
    """A multipart POST (the raise form's own "Continue") is left to its view, which reads the body only after the
    upload's limit: a ``language`` field in it chooses nothing."""
    client = esperanto.test_client()
    page = client.get("/raise").get_data(as_text=True)
    data = {"csrf_token": found(CSRF_RE, page), "submission": found(SUBMISSION_RE, page), "step": "check",
            "what_happened": WORDS, "anonymity": "anonymous", "language": "eo"}  # fmt: skip
    sent = client.post("/raise", data=data, content_type="multipart/form-data")
    assert sent.location == "/raise/check"
    assert '<html lang="en"' in client.get("/raise/check").get_data(as_text=True)


def test_a_half_written_reply_comes_back_in_the_new_language_with_its_words(esperanto: Flask) -> None:
    from support.apps import install_organisation_keys
    from support.factories import gen_concern
    from support.html import following_up

    install_organisation_keys(esperanto)
    code = gen_concern(esperanto.test_client())["access_code"]
    client = following_up(esperanto, code)
    page = client.get("/follow-up/case").get_data(as_text=True)
    button = BUTTON_RE.search(page)
    assert button and 'form="reply-form"' in button.group(0) and 'formaction="?"' in button.group(0)
    reply_form = found(r'(<form[^>]*id="reply-form".*?</form>)', page, re.S)
    token = found(CSRF_RE, reply_form)
    chosen = client.post("/follow-up/case", data={"csrf_token": token, "body": WORDS, "language": "eo"})
    assert (chosen.status_code, chosen.location) == (303, "/follow-up/case")
    again = client.get("/follow-up/case").get_data(as_text=True)
    assert '<html lang="eo" dir="ltr">' in again and WORDS in again and "nhsuk-error-summary" not in again


# A guardian's pages: the same buttons, tied to "Record a concern" and to the case page's one form (its sections'
# words all come back, each in its own section).
NOTE = "Spoke to the ward manager; she will call back on Friday"


def _guardian(app: Flask) -> FlaskClient:
    from support.apps import install_organisation_keys
    from support.factories import gen_staff
    from support.html import signed_in

    install_organisation_keys(app)
    return signed_in(app, gen_staff(app))


def _case_page(app: Flask) -> tuple[FlaskClient, str]:
    from support.factories import gen_concern
    from support.html import case_address

    client = _guardian(app)
    return client, case_address(app, gen_concern(client)["reference"])


def _textarea(page: str, name: str) -> str:
    return found(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', page, re.S)


def test_the_guardian_case_page_offers_buttons_that_send_its_form(esperanto: Flask) -> None:
    from support.factories import gen_concern

    client = _guardian(esperanto)
    reference = gen_concern(client)["reference"]
    # Opened at its reference (typed, or found): the buttons send to "?", this very page, never its address again.
    page = client.get(f"/guardian/cases/{reference}").get_data(as_text=True)
    button = BUTTON_RE.search(page)
    assert button, "no chooser button on the case page"
    for attribute in ('form="case-form"', 'formaction="?"', 'formmethod="post"', 'value="eo"',
                      'formenctype="application/x-www-form-urlencoded"', "formnovalidate"):  # fmt: skip
        assert attribute in button.group(0)
    assert reference not in button.group(0)
    # The queue has no form with words in it: the chooser's own form, which sends nothing of the page's.
    assert not FORM_BUTTON_RE.search(client.get("/guardian/").get_data(as_text=True))


def test_half_written_words_on_the_case_page_come_back_in_the_new_language_each_in_its_section(
    esperanto: Flask, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    client, address = _case_page(esperanto)
    page = client.get(address).get_data(as_text=True)
    before = _every_row(esperanto)
    data = {"csrf_token": found(CSRF_RE, page), "version": found(r'name="version" value="(\d+)"', page),
            "body": WORDS, "note": NOTE, "status": "", "assignee": "", "language": "eo"}  # fmt: skip
    chosen = client.post(address, data=data)
    assert (chosen.status_code, chosen.location) == (303, address)
    assert WORDS not in chosen.get_data(as_text=True)
    # Sealed for this browser as any kept form: one row, nothing done to the case (opening it again is audited).
    after = _every_row(esperanto)
    changed = {name for name in after if after[name] != before.get(name)}
    assert changed <= {"form_posts"}, changed
    again = client.get(address).get_data(as_text=True)
    assert '<html lang="eo" dir="ltr">' in again and "Saltu al la enhavo" in again
    assert _textarea(again, "body").strip() == WORDS and _textarea(again, "note").strip() == NOTE
    assert "nhsuk-error-summary" not in again and "form-refused" not in again
    assert re.search(r'<details[^>]*id="notes"[^>]*open', again), "the notes section holding words is shown open"
    # Nothing plain anywhere, nothing logged.
    rows = _every_row(esperanto)
    assert not any(WORDS in repr(row) or NOTE in repr(row) for table in rows.values() for row in table)
    assert WORDS not in caplog.text and NOTE not in caplog.text
    client.get("/guardian/")
    later = client.get(address).get_data(as_text=True)
    assert WORDS not in later and NOTE not in later and '<html lang="eo"' in later


def test_record_a_concern_offers_buttons_and_keeps_its_words_in_the_new_language(esperanto: Flask) -> None:
    client = _guardian(esperanto)
    page = client.get("/guardian/record").get_data(as_text=True)
    button = BUTTON_RE.search(page)
    assert button, "no chooser button on Record a concern"
    assert 'form="record-form"' in button.group(0) and 'formaction="?"' in button.group(0)
    assert '<form id="record-form"' in page
    data = {"csrf_token": found(CSRF_RE, page), "channel": "phone", "what_happened": WORDS, "where": WHERE,
            "anonymity": "anonymous", "language": "eo"}  # fmt: skip
    chosen = client.post("/guardian/record", data=data)
    assert (chosen.status_code, chosen.location) == (303, "/guardian/record")
    again = client.get("/guardian/record").get_data(as_text=True)
    assert '<html lang="eo" dir="ltr">' in again and WORDS in again and f'value="{WHERE}"' in again
    assert re.search(r'value="phone"[^>]*checked', again) and "nhsuk-error-summary" not in again
    assert not any(WORDS in repr(row) for rows in _every_row(esperanto).values() for row in rows)


def test_a_page_that_asks_for_a_password_or_security_code_sends_none_of_its_form(esperanto: Flask) -> None:
    """Words are kept only from a form registered to keep them: never one with a password or a security code."""
    assert not FORM_BUTTON_RE.search(esperanto.test_client().get("/guardian/sign-in").get_data(as_text=True))
    client = _guardian(esperanto)
    assert not FORM_BUTTON_RE.search(client.get("/guardian/password").get_data(as_text=True))


def test_a_chooser_press_on_the_case_page_after_signing_out_keeps_nothing(esperanto: Flask) -> None:
    """Back and Reload after the guardian signed out: the chooser's POST is refused like any form's, nothing kept."""
    from support.html import AuthActions

    client, address = _case_page(esperanto)
    page = client.get(address).get_data(as_text=True)
    data = {"csrf_token": found(CSRF_RE, page), "body": WORDS, "language": "eo"}
    assert AuthActions(client).sign_out().status_code == 303
    before = _every_row(esperanto)
    replayed = client.post(address, data=data)
    assert replayed.status_code == 303 and WORDS not in replayed.get_data(as_text=True)
    assert WORDS not in client.get(replayed.location, follow_redirects=True).get_data(as_text=True)
    assert _every_row(esperanto)["form_posts"] == before["form_posts"]


def _kept_values(app: Flask, client: FlaskClient) -> dict[str, str]:
    """What the chooser kept for this browser, opened as the page opens it (with the browser's own secret)."""
    from speakup.platform import form_posts
    from speakup.web.once import BROWSER, KEPT

    with client.session_transaction() as session:
        nonce, browser = session[KEPT]["nonce"], session[BROWSER]
    with app.app_context():
        kept = form_posts.open_kept(nonce, browser)
    assert kept is not None
    return kept.values


@pytest.mark.parametrize("page", ["/guardian/record", "case"])
def test_a_guardians_chooser_keeps_only_the_forms_own_fields_never_a_password_or_code(
    esperanto: Flask, page: str
) -> None:
    if page == "case":
        client, page = _case_page(esperanto)
    else:
        client = _guardian(esperanto)
    form = client.get(page).get_data(as_text=True)
    data = {"csrf_token": found(CSRF_RE, form), "body": WORDS, "what_happened": WORDS, "password": "Secret-Pass-1",
            "security_code": "123456", "current_password": "Secret-Pass-1", "language": "eo"}  # fmt: skip
    assert client.post(page, data=data).status_code == 303
    kept = _kept_values(esperanto, client)
    assert WORDS in kept.values()
    assert not {"password", "security_code", "current_password", "csrf_token", "language"} & set(kept)
    assert not any("Secret-Pass-1" in value or "123456" in value for value in kept.values())


@pytest.mark.parametrize("where", ["case", "/guardian/record"])
def test_a_chooser_press_after_the_time_out_keeps_the_words_for_the_guardians_next_sign_in(
    esperanto: Flask, frozen_clock, where: str
) -> None:
    """As a form sent after the time-out (tests/web/test_words_kept_at_time_out.py): the words are sealed to the
    guardian's own key, not kept for the browser (whose session is forgotten), and shown as not sent after she signs
    in again."""
    from datetime import timedelta

    from support.factories import gen_concern, gen_staff
    from support.html import AuthActions, case_address
    from support.present import nowhere_in_plain

    install_organisation_keys(esperanto)
    gita = gen_staff(esperanto)
    client = esperanto.test_client()
    AuthActions(client).signed_in(gita)
    url = case_address(esperanto, gen_concern(client)["reference"]) if where == "case" else where
    page = client.get(url).get_data(as_text=True)
    frozen_clock.advance(timedelta(minutes=31))
    field = "body" if where == "case" else "what_happened"
    sent = client.post(url, data={"csrf_token": found(CSRF_RE, page), field: WORDS, "language": "eo"})
    assert (sent.status_code, sent.location) == (303, "/guardian/sign-in")
    nowhere_in_plain(esperanto, WORDS)
    signed_in = AuthActions(client).sign_in(gita)
    assert signed_in.location == url
    again = client.get(url).get_data(as_text=True)
    shown = found(r'(?s)<div class="nhsuk-warning-callout" id="unsent-at-time-out">(.*?)</div>', again)
    assert WORDS in shown
