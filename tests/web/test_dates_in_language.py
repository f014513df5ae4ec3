"""Dates, times and numbers in the page's language (issue 28): Babel writes them as the language does; English
stays exactly as GOV.UK writes it ("7 December 2026 at 2:05pm", "midday"); outside a request (an email, the command
line) it is English."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask_babel import force_locale
from support.apps import make_app
from support.catalogues import directories_with, install_catalogue

from speakup.platform import dates, languages


@pytest.mark.parametrize(
    ("code", "value", "time", "shown"),
    [
        ("en", datetime(2026, 12, 7, 14, 5), True, "7 December 2026 at 2:05pm"),
        ("en", datetime(2026, 12, 7, 12, 0), True, "7 December 2026 at midday"),
        ("en", date(2026, 12, 7), False, "7 December 2026"),
        ("cy", date(2026, 12, 7), False, "7 Rhagfyr 2026"),
        ("cy", datetime(2026, 12, 7, 14, 5), False, "7 Rhagfyr 2026"),
        ("cy", datetime(2026, 12, 7, 14, 5), True, "7 Rhagfyr 2026 am 14:05"),  # "am": the Welsh catalogue's "at"
        ("cy", datetime(2026, 7, 1, 9, 0), True, "1 Gorffennaf 2026 am 10:00"),  # UK time, as in English
        ("pl", date(2026, 12, 7), False, "7 grudnia 2026"),
        ("ur", date(2026, 12, 7), False, "7 دسمبر، 2026"),
    ],
)
def test_a_date_is_written_in_the_pages_language(app: Flask, code: str, value, time: bool, shown: str) -> None:
    with app.test_request_context("/"), force_locale(code):
        assert dates.written(value, time=time) == shown


def test_the_words_between_a_day_and_its_time_are_translated(database_url: str, tmp_path: Path) -> None:
    folder = install_catalogue(tmp_path / "translations", "cy", {"%(day)s at %(time)s": "%(day)s am %(time)s"})
    app = make_app(database_url, LANGUAGES=["en", "cy"], BABEL_TRANSLATION_DIRECTORIES=directories_with(folder))
    with app.test_request_context("/"), force_locale("cy"):
        assert dates.written(datetime(2026, 12, 7, 14, 5), time=True) == "7 Rhagfyr 2026 am 14:05"


def test_outside_a_request_it_is_english(app: Flask) -> None:
    with app.app_context():
        assert dates.written(datetime(2026, 12, 7, 14, 5), time=True) == "7 December 2026 at 2:05pm"


@pytest.mark.parametrize(("code", "shown"), [("en", "12,000"), ("cy", "12,000"), ("pl", "12\xa0000")])
def test_a_number_is_written_in_the_pages_language(app: Flask, code: str, shown: str) -> None:
    with app.test_request_context("/"), force_locale(code):
        assert languages.number(12000) == shown
        assert app.jinja_env.from_string("{{ 12000 | number }}").render() == shown
    assert languages.number(12000) == "12,000"
