"""The one way a page writes a date or a time for a person to read: "7 December 2026", and "7 December 2026 at
2:05pm" where the time matters (GOV.UK style: 12-hour clock, no leading zero, "10am", "midday", "midnight").

Templates use it as the ``long_date`` filter (speakup/web/__init__.py); messages built in Python (a domain error,
a notice after a form) call ``written`` too, so a date reads the same wherever it is shown. CSV exports, the API and
the command line keep ISO 8601 (``2026-12-07``), which machines read. Stored times are naive UTC and are shown in UK
time (speakup/platform/clock.py); a ``date`` is a calendar day already and is shown as it is."""

from __future__ import annotations

from datetime import date, datetime

from speakup.platform import clock

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
    if isinstance(value, datetime):
        moment = clock.uk_time(value)
        day = f"{moment.day} {MONTHS[moment.month - 1]} {moment.year}"
        return f"{day} at {_time_of_day(moment.hour, moment.minute)}" if time else day
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def _time_of_day(hour: int, minute: int) -> str:
    if minute == 0 and hour in (0, 12):
        return "midnight" if hour == 0 else "midday"
    clock_hour = hour % 12 or 12
    suffix = "am" if hour < 12 else "pm"
    return f"{clock_hour}{suffix}" if minute == 0 else f"{clock_hour}:{minute:02d}{suffix}"
