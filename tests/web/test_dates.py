"""One way of writing a date on every page: "7 December 2026", and "7 December 2026 at 2:05pm" where the time is
shown, from one Jinja filter (``long_date``, speakup/platform/dates.py); no template or page message formats a
date any other way. CSV exports and the API keep ISO dates, which machines read."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import pytest
from flask import Flask
from support.present import found

from speakup.platform import dates

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "speakup" / "templates"


@pytest.mark.parametrize(
    ("value", "time", "shown"),
    [
        (date(2026, 12, 7), False, "7 December 2026"),
        (date(2027, 1, 31), True, "31 January 2027"),  # a calendar day has no time to show
        (datetime(2026, 12, 7, 14, 5), False, "7 December 2026"),
        (datetime(2026, 12, 7, 14, 5), True, "7 December 2026 at 2:05pm"),  # GMT: UK time is UTC
        (datetime(2026, 7, 1, 9, 0), True, "1 July 2026 at 10am"),  # BST: an hour ahead
        (datetime(2026, 6, 30, 23, 30), True, "1 July 2026 at 12:30am"),  # already the next day in the UK
        (datetime(2026, 12, 7, 12, 0), True, "7 December 2026 at midday"),
        (datetime(2026, 12, 7, 0, 0), True, "7 December 2026 at midnight"),
        (datetime(2026, 12, 7, 0, 1), True, "7 December 2026 at 12:01am"),
    ],
)
def test_the_filter_writes_a_date_one_way(app: Flask, value, time: bool, shown: str):
    assert dates.written(value, time=time) == shown
    with app.app_context():
        template = "{{ value | long_date(time=time) }}"
        assert app.jinja_env.from_string(template).render(value=value, time=time) == shown


# What shows a date or time in a template: a value named like one (created_at, acknowledge_by, closed_on,
# to_date, next_due, ...) written out by {{ }}. Each must go through long_date.
DATE_VALUE = re.compile(r"\{\{\s*[\w.]*(?:_at|_by|_on|_date|_due)\s*(\|\s*\w+|\}\})")
# A date given to a translated sentence ({% trans when=case.feedback_by | long_date %}, _("...", when=...)).
DATE_ARGUMENT = re.compile(r"=\s*(?!request\.requested_by)[\w.]*(?:_at|_by|_on|_date|_due)\b\s*(\|\s*\w+)?")
OTHER_FORMATS = re.compile(r"strftime|london_date|london_datetime|\|\s*date\b|%-?[dbBYHMI]\b|isoformat")


def _templates() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


def test_no_template_writes_a_date_another_way():
    assert _templates()
    for path in _templates():
        text = path.read_text()
        assert not OTHER_FORMATS.search(text), f"{path.relative_to(ROOT)} formats a date its own way"
        for match in [*DATE_VALUE.finditer(text), *DATE_ARGUMENT.finditer(text)]:
            assert "long_date" in (match.group(1) or ""), f"{path.relative_to(ROOT)}: {match.group(0)} is not long_date"
    texts = [path.read_text() for path in _templates()]
    assert sum(len(DATE_VALUE.findall(text)) + len(DATE_ARGUMENT.findall(text)) for text in texts) > 20  # it finds them


def test_the_check_finds_a_date_written_another_way():
    """The check above can fail: a date shown bare, or through strftime, is caught."""
    assert found(DATE_VALUE, "<td>{{ row.created_at }}</td>") == "}}"
    assert found(DATE_VALUE, "<td>{{ row.next_due | london_date }}</td>") == "| london_date"
    assert OTHER_FORMATS.search("{{ row.created_at.strftime('%d/%m/%Y') }}")
    assert "long_date" in found(DATE_VALUE, "{{ case.feedback_by | long_date }}")
    bare = DATE_ARGUMENT.search("{% trans when=case.feedback_by %}")
    assert bare is not None and bare.group(1) is None
    assert "long_date" in found(DATE_ARGUMENT, "{% trans when=case.feedback_by | long_date %}")


def test_page_messages_built_in_python_use_the_same_writer():
    """A notice or an error that names a date (moved to stage 2, a deadline moved, a date too late) is built by
    dates.written, never its own strftime: nothing in the pages' Python or the domain formats a date itself."""
    for package in ("web", "domain"):
        for path in sorted((ROOT / "speakup" / package).rglob("*.py")):
            text = path.read_text()
            assert not re.search(r"strftime|:%-?d |%B|%b ", text), f"{path.relative_to(ROOT)} formats a date"
