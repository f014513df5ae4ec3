"""Every deadline of a case: when a new concern must be acknowledged and answered, which of those dates matters
next, and whether it is due, due soon or overdue. Pure functions: no I/O, no clock of their own. Changing a case's
deadlines once it has arrived (escalating, extending) is ``deadlines.changes``.

The rules the organisation follows (DEADLINE_RULES) are ``RULE_SETS`` below, each with its source: the one place
the code says where a rule comes from.

A day counts from the UK day the concern arrived: a concern that arrives on a Saturday is on its first working day
on Monday."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

import holidays
from dateutil.relativedelta import relativedelta

from speakup.domain import workflow
from speakup.platform import clock
from speakup.platform.translation import lazy_gettext as _l


@dataclass(frozen=True)
class RuleSet:
    """A set of rules an organisation follows: what the pages call it, and the document and section it comes from."""

    framework: str  # as a sentence names it: "Deadlines follow {framework}." (lazy: in the page's language)
    document: str
    section: str


RULE_SETS = {
    # No national rule in England fixes the days: ACK_DAYS and FEEDBACK_DAYS (7 and 90 calendar days by default) are
    # this service's defaults, for the trust to set to its own speak up policy.
    "england": RuleSet(
        _l("this organisation's speak up policy"),
        "Freedom to Speak Up: the national speak up policy for the NHS in England (NHS England, 2022), as the trust "
        "adopts it",
        "no national timescale: ACK_DAYS and FEEDBACK_DAYS, calendar days, set by the trust",
    ),
    "eu": RuleSet(
        _l("the EU Whistleblowing Directive"),
        "Directive (EU) 2019/1937 on the protection of persons who report breaches of Union law",
        "article 9(1)(b): acknowledge within 7 days of receipt; article 9(1)(f): feedback within 3 months of that "
        "acknowledgement",
    ),
    "scotland": RuleSet(
        _l("the National Whistleblowing Standards"),
        "Independent National Whistleblowing Officer: National Whistleblowing Standards for the NHS in Scotland "
        "(in force from 1 April 2021)",
        "the whistleblowing procedure: stage 1 (early resolution), a response within 5 working days; stage 2 "
        "(investigation), acknowledged within 3 working days and a full response within 20 (domain/stage_two.py "
        "has the response itself)",
    ),
    # The framework sets no days of its own: the trust's ACK_DAYS and FEEDBACK_DAYS, England's defaults until then.
    "wales": RuleSet(
        _l("the Speaking up Safely framework for NHS Wales"),
        "Speaking up Safely: a framework for NHS Wales (Welsh Government and NHS Wales, September 2023)",
        "no fixed timescale: ACK_DAYS and FEEDBACK_DAYS, calendar days, set by the trust",
    ),
}
RULES = tuple(RULE_SETS)

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


def due_date(raised_at: datetime, days: int) -> date:
    """The UK calendar day ``days`` after the UK day the concern arrived.

    A concern raised at 23:30 UTC on 31 March 2026 arrived on 1 April in the UK (BST), so a
    7-day deadline falls on 8 April, not 7 April.
    """
    return clock.uk_date(raised_at) + timedelta(days=days)


def acknowledge_by(raised_at: datetime, ack_days: int) -> date:
    return due_date(raised_at, ack_days)


def feedback_by(raised_at: datetime, feedback_days: int) -> date:
    return due_date(raised_at, feedback_days)


def for_new_concern(raised_at: datetime, config: Mapping[str, Any]) -> Deadlines:
    """The deadlines a concern raised at ``raised_at`` (naive UTC) gets under the configured rules."""
    rules = config["DEADLINE_RULES"]
    received = clock.uk_date(raised_at)
    if rules == "eu":
        acknowledged = received + timedelta(days=7)
        return Deadlines(acknowledged, acknowledged + relativedelta(months=3))
    if rules == "scotland":
        if int(config["SCOTLAND_STAGE"]) == 1:
            respond_by = working_days_after(received, STAGE_1_RESPOND, SCOTLAND)
            return Deadlines(respond_by, respond_by, 1)
        return stage_2_from(received)
    return Deadlines(acknowledge_by(raised_at, config["ACK_DAYS"]), feedback_by(raised_at, config["FEEDBACK_DAYS"]))


def stage_2_from(day: date) -> Deadlines:
    """Stage 2's deadlines counted from ``day``: the day it arrived, or the day it was escalated from stage 1."""
    return Deadlines(
        working_days_after(day, STAGE_2_ACKNOWLEDGE, SCOTLAND), working_days_after(day, STAGE_2_RESPOND, SCOTLAND), 2
    )


def stage_of(case_stage: int | None, config: Mapping[str, Any]) -> int | None:
    """A case's stage under the Scottish rules (one raised before stages were kept has the configured one)."""
    if config["DEADLINE_RULES"] != "scotland":
        return None
    return case_stage or int(config["SCOTLAND_STAGE"])


def next_due(status: str, acknowledge_by: date, feedback_by: date) -> date | None:
    """The deadline that matters next: acknowledging a new case, then feedback; none once closed."""
    if status == workflow.CLOSED:
        return None
    return acknowledge_by if status == workflow.RECEIVED else feedback_by


OVERDUE = "overdue"
DUE_SOON = "due_soon"
DUE = "due"
DEADLINE_LABELS = {OVERDUE: _l("Overdue"), DUE_SOON: _l("Due soon"), DUE: _l("Due")}


def deadline_state(due: date | None, today: date, soon_days: int) -> str | None:
    """Overdue after the due day; due soon from ``soon_days`` before it, the due day included."""
    if due is None:
        return None
    if today > due:
        return OVERDUE
    if (due - today).days <= soon_days:
        return DUE_SOON
    return DUE
