"""The language chooser and what a page says of its language (issue 28): each other language offered is a button on
every page, named in itself; choosing keeps the person on the same page, for the visit only; <html lang> and dir
follow the page's language."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from support.apps import make_app
from support.catalogues import directories_with, install_catalogue

from speakup.settings import ConfigurationError

LANG_RE = re.compile(r'<html lang="([^"]+)" dir="([^"]+)">')


@pytest.fixture
def esperanto(database_url: str, tmp_path: Path) -> Flask:
    """English and a language the service does not ship, with one message translated."""
    folder = install_catalogue(tmp_path / "translations", "eo", {"Language": "Lingvo"})
    return make_app(database_url, LANGUAGES=["en", "eo"], BABEL_TRANSLATION_DIRECTORIES=directories_with(folder))


def test_with_only_english_offered_a_page_says_english_and_offers_no_chooser(database_url: str) -> None:
    page = make_app(database_url, LANGUAGES=["en"]).test_client().get("/").get_data(as_text=True)
    assert LANG_RE.search(page).groups() == ("en", "ltr")  # type: ignore[union-attr]
    assert 'aria-label="Language"' not in page


def test_choosing_a_language_keeps_the_person_on_the_same_page_for_the_visit(esperanto: Flask) -> None:
    client = esperanto.test_client()
    page = client.get("/follow-up").get_data(as_text=True)
    assert LANG_RE.search(page).groups() == ("en", "ltr")  # type: ignore[union-attr]
    button = re.search(r'<button[^>]*name="language" value="eo" lang="eo" dir="ltr"[^>]*>Esperanto</button>', page)
    assert button, "no button for the other language, named in itself"
    # A form of its own, posted to the page itself (no action: the page never writes its own address), with the
    # page's token; no address names the language (tests/web/test_language_chooser_form.py).
    assert '<form class="speakup-languages__form" method="post" novalidate>' in page
    token = re.search(r'name="language_token" value="([^"]+)"', page)
    assert token
    chosen = client.post("/follow-up", data={"language_token": token.group(1), "language": "eo"})
    assert (chosen.status_code, chosen.headers["Location"]) == (303, "/follow-up")
    after = client.get("/follow-up").get_data(as_text=True)
    assert LANG_RE.search(after).groups() == ("eo", "ltr")  # type: ignore[union-attr]
    assert 'aria-label="Lingvo"' in after and re.search(r'value="en" lang="en" dir="ltr"[^>]*>English</button>', after)
    # Another browser (the next visit) starts in the default language again.
    assert LANG_RE.search(esperanto.test_client().get("/").get_data(as_text=True)).group(1) == "en"  # type: ignore[union-attr]


def test_a_language_not_offered_is_ignored(esperanto: Flask) -> None:
    client = esperanto.test_client()
    assert client.get("/?language=xx").headers["Location"] == "/"
    assert LANG_RE.search(client.get("/").get_data(as_text=True)).group(1) == "en"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "settings",
    [{"LANGUAGES": []}, {"LANGUAGES": ["en"], "DEFAULT_LANGUAGE": "cy"}, {"LANGUAGES": ["en", "zz-nothing"]}],
)
def test_the_language_settings_are_checked(database_url: str, settings: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError, match="SPEAKUP_LANGUAGES"):
        make_app(database_url, **settings)


def test_languages_may_be_given_as_codes_separated_by_commas(database_url: str, tmp_path: Path) -> None:
    folder = install_catalogue(tmp_path / "translations", "eo", {})
    app = make_app(database_url, LANGUAGES="eo, en", DEFAULT_LANGUAGE="eo",
                   BABEL_TRANSLATION_DIRECTORIES=directories_with(folder))  # fmt: skip
    assert [language.code for language in app.config["LANGUAGES_OFFERED"]] == ["eo", "en"]
    assert LANG_RE.search(app.test_client().get("/").get_data(as_text=True)).group(1) == "eo"  # type: ignore[union-attr]
