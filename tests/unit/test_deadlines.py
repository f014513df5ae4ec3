"""Deadline rules per organisation: England's calendar days, the EU Directive, and Scotland's
National Whistleblowing Standards in working days, across Christmas and Easter."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from speakup.domain import deadlines

ENGLAND = {"DEADLINE_RULES": "england", "ACK_DAYS": 7, "FEEDBACK_DAYS": 90, "SCOTLAND_STAGE": 2}
EU = {**ENGLAND, "DEADLINE_RULES": "eu"}
SCOTLAND = {**ENGLAND, "DEADLINE_RULES": "scotland"}


def noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, 0)  # naive UTC, as stored


def test_england_counts_calendar_days_as_configured():
    due = deadlines.for_new_concern(noon(date(2026, 12, 23)), ENGLAND)
    assert due == deadlines.Deadlines(date(2026, 12, 30), date(2027, 3, 23))
    longer = deadlines.for_new_concern(noon(date(2026, 12, 23)), {**ENGLAND, "ACK_DAYS": 2, "FEEDBACK_DAYS": 30})
    assert longer == deadlines.Deadlines(date(2026, 12, 25), date(2027, 1, 22))


def test_the_eu_directive_gives_seven_days_then_three_months():
    assert deadlines.for_new_concern(noon(date(2026, 11, 24)), EU) == deadlines.Deadlines(
        date(2026, 12, 1), date(2027, 3, 1)
    )
    # Three months from 31 August ends on the last day of November, not in December.
    assert deadlines.for_new_concern(noon(date(2026, 8, 24)), EU).feedback_by == date(2026, 11, 30)


@pytest.mark.parametrize(
    ("raised", "acknowledge_by", "respond_by"),
    [
        # Christmas 2026 in Scotland: 25, 26 (a Saturday), 28 (Boxing Day observed), then 1 and 2 January, with the
        # New Year holiday observed on Monday 4 January 2027.
        (date(2026, 12, 23), date(2026, 12, 30), date(2027, 1, 26)),
        (date(2026, 12, 24), date(2026, 12, 31), date(2027, 1, 27)),
        # Raised on Christmas Day: its first working day is Tuesday 29 December.
        (date(2026, 12, 25), date(2026, 12, 31), date(2027, 1, 27)),
        # Easter 2027: Good Friday 26 March is a holiday in Scotland; Easter Monday 29 March is a working day there.
        (date(2027, 3, 24), date(2027, 3, 30), date(2027, 4, 22)),
        # An ordinary week, raised on a Saturday: Monday is the first working day.
        (date(2026, 10, 10), date(2026, 10, 14), date(2026, 11, 6)),
    ],
)
def test_scotland_stage_two_counts_working_days_without_bank_holidays(raised, acknowledge_by, respond_by):
    assert deadlines.for_new_concern(noon(raised), SCOTLAND) == deadlines.Deadlines(acknowledge_by, respond_by, 2)


def test_scotland_stage_one_responds_within_five_working_days():
    due = deadlines.for_new_concern(noon(date(2027, 3, 24)), {**SCOTLAND, "SCOTLAND_STAGE": 1})
    assert due == deadlines.Deadlines(date(2027, 4, 1), date(2027, 4, 1), 1)  # Good Friday skipped, Easter Monday not


def test_england_and_scotland_keep_their_own_bank_holidays():
    assert not deadlines.working_day(date(2027, 3, 29), "ENG")  # Easter Monday, in England
    assert deadlines.working_day(date(2027, 3, 29), "SCT")
    assert not deadlines.working_day(date(2027, 1, 4), "SCT")  # 2 January's holiday observed, in Scotland only
    assert deadlines.working_day(date(2027, 1, 4), "ENG")
