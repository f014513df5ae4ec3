"""A reporter-side language (issue 28, point 4: Polish, Urdu and the others, drafts of the reporter's pages only) is
offered and answered in on the pages of a person raising or following up a concern, and on the error pages reached
from them; never on a guardian's, an administrator's or an enrolment page, which answer in the default language even
when the visit chose one. Its home page says, in it, that a guardian may need an interpreter; Urdu reads right to
left. A test catalogue for "ur" stands in for the translators' (tests/support/catalogues.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask_babel import get_locale
from support.apps import make_app
from support.catalogues import directories_with, install_catalogue

from speakup.platform import languages

HEADING = "Speak up about something that worries you"
INTERPRETER = "You can write in this language, but a guardian may need an interpreter to read a concern written in it."
URDU = {
    HEADING: "اس بارے میں بات کریں جو آپ کو پریشان کرتی ہے",
    INTERPRETER: "آپ اس زبان میں لکھ سکتے ہیں، لیکن گارڈین کو اسے پڑھنے کے لیے مترجم کی ضرورت ہو سکتی ہے۔",
    "Sign in": "سائن ان",
    "Page not found": "صفحہ نہیں ملا",
}
WELSH_INTERPRETER = "cyfieithydd"  # not said in Welsh: a guardian reads Welsh


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Flask:
    folder = install_catalogue(tmp_path / "translations", "ur", URDU)
    return make_app(database_url, LANGUAGES=["en", "cy", "ur"], DEFAULT_LANGUAGE="en",
                    BABEL_TRANSLATION_DIRECTORIES=directories_with(folder))  # fmt: skip


def _in_urdu(app: Flask):
    client = app.test_client()
    assert client.get("/?language=ur").status_code == 303
    return client


def test_the_reporters_pages_offer_it_and_answer_in_it_right_to_left(app: Flask) -> None:
    english = app.test_client().get("/").get_data(as_text=True)
    assert 'value="ur" lang="ur" dir="rtl">اردو</button>' in english, "the chooser offers Urdu"
    assert INTERPRETER not in english
    client = _in_urdu(app)
    for url in ("/", "/raise", "/other-ways", "/follow-up", "/privacy", "/accessibility"):
        page = client.get(url).get_data(as_text=True)
        assert '<html lang="ur" dir="rtl">' in page, url
    home = client.get("/").get_data(as_text=True)
    assert URDU[HEADING] in home
    assert URDU[INTERPRETER] in home, "the home page says a guardian may need an interpreter, in Urdu"


def test_an_error_page_reached_from_them_is_in_it_too(app: Flask) -> None:
    client = _in_urdu(app)
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    assert '<html lang="ur" dir="rtl">' in missing.get_data(as_text=True)
    staff_missing = client.get("/guardian/no-such-page")
    assert staff_missing.status_code == 404
    assert '<html lang="en"' in staff_missing.get_data(as_text=True)


@pytest.mark.parametrize("url", ["/guardian/sign-in", "/enrol?token=unknown", "/admin/"])
def test_a_staff_page_never_offers_it_and_answers_in_the_default(app: Flask, url: str) -> None:
    client = _in_urdu(app)
    page = client.get(url, follow_redirects=True).get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in page, url
    assert "اردو" not in page and "Cymraeg" in page, "the chooser offers Welsh, not Urdu"
    assert URDU["Sign in"] not in page
    # The visit's choice stands for the reporter's pages.
    assert '<html lang="ur"' in client.get("/").get_data(as_text=True)


def test_a_staff_page_does_not_take_the_choice(app: Flask) -> None:
    client = app.test_client()
    client.get("/guardian/sign-in?language=ur")
    assert '<html lang="en"' in client.get("/").get_data(as_text=True)


def test_the_note_is_said_only_in_a_reporter_side_language(app: Flask) -> None:
    client = app.test_client()
    client.get("/?language=cy")
    home = client.get("/").get_data(as_text=True)
    assert '<html lang="cy"' in home and WELSH_INTERPRETER not in home.lower()


def test_the_api_never_answers_in_it(app: Flask) -> None:
    with app.test_request_context("/api/v1/options", headers={"Accept-Language": "ur, cy;q=0.5"}):
        assert str(get_locale()) == "cy"


def test_a_reporter_side_default_leaves_staff_pages_in_the_first_other(database_url: str, tmp_path: Path) -> None:
    folder = install_catalogue(tmp_path / "translations", "ur", URDU)
    app = make_app(database_url, LANGUAGES=["ur", "cy", "en"], DEFAULT_LANGUAGE="ur",
                   BABEL_TRANSLATION_DIRECTORIES=directories_with(folder))  # fmt: skip
    assert '<html lang="ur"' in app.test_client().get("/").get_data(as_text=True)
    assert '<html lang="cy"' in app.test_client().get("/guardian/sign-in").get_data(as_text=True)


def test_which_languages_a_page_offers() -> None:
    offered = [languages.KNOWN[code] for code in ("en", "ur", "cy", "pl")]
    assert [each.code for each in languages.for_page(offered, reporter_page=True)] == ["en", "ur", "cy", "pl"]
    assert [each.code for each in languages.for_page(offered, reporter_page=False)] == ["en", "cy"]
    assert [each.code for each in languages.for_page(offered[1:2], reporter_page=False)] == ["en"]
