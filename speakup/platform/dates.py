"""The one way a page writes a date or a time for a person to read: "7 December 2026", and "7 December 2026 at
2:05pm" where the time matters (GOV.UK style: 12-hour clock, no leading zero, "10am", "midday", "midnight").

Templates use it as the ``long_date`` filter (speakup/web/__init__.py); messages built in Python (a domain error,
a notice after a form) call ``written`` too, so a date reads the same wherever it is shown. CSV exports, the API and
the command line keep ISO 8601 (``2026-12-07``), which machines read. Stored times are naive UTC and are shown in UK
time (speakup/platform/clock.py); a ``date`` is a calendar day already and is shown as it is.

In another language (issue 28) Babel writes the day and the time as that language does ("7 Rhagfyr 2026", "14:05"),
and the catalogue the words between them. English keeps GOV.UK's style, which no locale's pattern gives. Outside a
request (an email being sent, the command line) it is English."""

from __future__ import annotations

from datetime import date, datetime

from babel import Locale
from babel.dates import format_date, format_time
from flask import has_request_context
from flask_babel import get_locale

from speakup.platform import clock
from speakup.platform.translation import gettext

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def written(value: date | datetime, time: bool = False) -> str:
    """``value`` as a person reads it: the day ("7 December 2026"), and with ``time`` the UK time of a stored
    moment ("7 December 2026 at 2:05pm"). A datetime is always turned to UK time first, so a concern raised at
    23:30 UTC in summer shows the next day."""
    locale = _page_locale()
    if isinstance(value, datetime):
        moment = clock.uk_time(value)
        day = _day(moment.date(), locale)
        if not time:
            return day
        at = _time_of_day(moment.hour, moment.minute) if locale is None else format_time(moment, "short", locale=locale)
        # The words around the day and the time are the catalogue's (word order differs between languages).
        if not has_request_context():
            return f"{day} at {at}"  # an email or the command line: English, and no catalogue to ask
        return str(gettext("%(day)s at %(time)s", day=day, time=at))
    return _day(value, locale)


def _page_locale() -> Locale | None:
    """The page's language when it is not English (None: English, GOV.UK's style)."""
    if not has_request_context():
        return None
    locale = get_locale()
    return None if locale is None or locale.language == "en" else locale


def _day(value: date, locale: Locale | None) -> str:
    if locale is None:
        return f"{value.day} {MONTHS[value.month - 1]} {value.year}"
    return format_date(value, "long", locale=locale)


def _time_of_day(hour: int, minute: int) -> str:
    if minute == 0 and hour in (0, 12):
        return "midnight" if hour == 0 else "midday"
    clock_hour = hour % 12 or 12
    suffix = "am" if hour < 12 else "pm"
    return f"{clock_hour}{suffix}" if minute == 0 else f"{clock_hour}:{minute:02d}{suffix}"
