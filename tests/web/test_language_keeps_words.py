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
from PIL import Image
from sqlalchemy import select
from support.apps import make_app
from support.catalogues import directories_with, install_catalogue
from support.html import CSRF_RE, SUBMISSION_RE
from support.present import found

from speakup.platform.models import db

WORDS = "The night shift on ward 7 is left with one nurse, week after week"
WHERE = "Ward 7, north wing"
BUTTON_RE = re.compile(r"<button[^>]*name=\"language\"[^>]*>")


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
    for attribute in ('form="raise-form"', 'formaction="/raise"', 'formmethod="post"', 'value="eo"', 'lang="eo"',
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
    assert button and 'form="reply-form"' in button.group(0) and 'formaction="/follow-up/case"' in button.group(0)
    reply_form = found(r'(<form[^>]*id="reply-form".*?</form>)', page, re.S)
    token = found(CSRF_RE, reply_form)
    chosen = client.post("/follow-up/case", data={"csrf_token": token, "body": WORDS, "language": "eo"})
    assert (chosen.status_code, chosen.location) == (303, "/follow-up/case")
    again = client.get("/follow-up/case").get_data(as_text=True)
    assert '<html lang="eo" dir="ltr">' in again and WORDS in again and "nhsuk-error-summary" not in again
