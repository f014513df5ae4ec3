"""When a new concern must be acknowledged and answered, by the rules the organisation follows (DEADLINE_RULES).

- ``england``: the guidance of the National Guardian's Office as this service has always applied it, ACK_DAYS and
  FEEDBACK_DAYS calendar days after the UK day the concern arrived (7 and 90 by default).
- ``eu``: the EU Whistleblowing Directive (2019/1937, article 9): acknowledged within 7 days of receipt, feedback
  within 3 months of the end of those 7 days.
- ``scotland``: the National Whistleblowing Standards, in working days (no weekends, no Scottish bank holidays,
  from the ``holidays`` package). Stage 2 (investigation): acknowledged within 3 working days, a full response
  within 20. Stage 1 (early resolution): a response within 5 working days. SCOTLAND_STAGE says which applies to
  new concerns.

A day counts from the UK day the concern arrived: a concern that arrives on a Saturday is on its first working day
on Monday."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache

import holidays
from dateutil.relativedelta import relativedelta

from speakup.domain import workflow
from speakup.platform import clock

RULES = ("england", "eu", "scotland")

SCOTLAND = "SCT"  # the holidays package's subdivision for Scotland's bank holidays
STAGE_1_RESPOND = 5  # working days
# Stage 1 may be extended only a little: beyond this many working days after receipt the concern belongs at stage 2.
STAGE_1_LONGEST = 10
STAGE_2_ACKNOWLEDGE, STAGE_2_RESPOND = 3, 20  # working days


@dataclass(frozen=True)
class Deadlines:
    acknowledge_by: date
    feedback_by: date
    stage: int | None = None  # Scotland's stage 1 or 2; None under the other rules


@cache
def _bank_holidays(subdivision: str, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv=subdivision, years=year))


def working_day(day: date, subdivision: str) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(subdivision, day.year)


def working_days_after(day: date, count: int, subdivision: str) -> date:
    """The ``count``-th working day after ``day`` (the day itself is day 0)."""
    while count > 0:
        day += timedelta(days=1)
        if working_day(day, subdivision):
            count -= 1
    return day


def for_new_concern(raised_at: datetime, config: dict) -> Deadlines:
    """The deadlines a concern raised at ``raised_at`` (naive UTC) gets under the configured rules."""
    rules = config["DEADLINE_RULES"]
    received = clock.uk_date(raised_at)
    if rules == "eu":
        acknowledge_by = received + timedelta(days=7)
        return Deadlines(acknowledge_by, acknowledge_by + relativedelta(months=3))
    if rules == "scotland":
        if int(config["SCOTLAND_STAGE"]) == 1:
            respond_by = working_days_after(received, STAGE_1_RESPOND, SCOTLAND)
            return Deadlines(respond_by, respond_by, 1)
        return stage_2_from(received)
    return Deadlines(
        workflow.acknowledge_by(raised_at, config["ACK_DAYS"]), workflow.feedback_by(raised_at, config["FEEDBACK_DAYS"])
    )


def stage_2_from(day: date) -> Deadlines:
    """Stage 2's deadlines counted from ``day``: the day it arrived, or the day it was escalated from stage 1."""
    return Deadlines(
        working_days_after(day, STAGE_2_ACKNOWLEDGE, SCOTLAND), working_days_after(day, STAGE_2_RESPOND, SCOTLAND), 2
    )


def stage_of(case_stage: int | None, config: dict) -> int | None:
    """A case's stage under the Scottish rules (one raised before stages were kept has the configured one)."""
    if config["DEADLINE_RULES"] != "scotland":
        return None
    return case_stage or int(config["SCOTLAND_STAGE"])
