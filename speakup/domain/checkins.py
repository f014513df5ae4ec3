"""Check-ins after closing: at set days after a case closed (CHECK_IN_DAYS, 90 and 365 by default) the reporter is
asked whether they have suffered detriment for speaking up since. A yes flags the case for its guardians (it is
listed on their queue as a reply waiting) and is counted in the national return and the board report."""

from __future__ import annotations

from datetime import date, timedelta

from speakup.domain import workflow
from speakup.domain.handling import changes_case, note_reporter_wrote
from speakup.ops import audit
from speakup.platform import clock
from speakup.platform.config import settings
from speakup.platform.inputs import InvalidInput
from speakup.platform.models import Case

QUESTION = "Since your case was closed, have you suffered detriment for speaking up?"


class CheckInNotDue(Exception):
    """No check-in is waiting for an answer on this case."""


def due_check_ins(case: Case, today: date) -> int:
    """How many check-ins have fallen due since the case closed (0 while it is open)."""
    if case.status != workflow.CLOSED or case.closed_at is None:
        return 0
    closed_on = clock.uk_date(case.closed_at)
    return sum(1 for days in settings().check_in_days if closed_on + timedelta(days=int(days)) <= today)


def check_in_requested(case: Case, today: date) -> bool:
    return due_check_ins(case, today) > case.check_ins_answered


@changes_case
def record_check_in(case: Case, detriment: object, today: date) -> None:
    """The reporter's answer: True (detriment since closing), or False. Answers every check-in due so far."""
    if not isinstance(detriment, bool):
        raise InvalidInput({"detriment": "Answer yes or no"})
    due = due_check_ins(case, today)
    if due <= case.check_ins_answered:
        raise CheckInNotDue("There is no question waiting for an answer on this case.")
    now = clock.minute_now()
    case.check_ins_answered = due
    case.checked_in_at = now
    if detriment:
        case.detriment_after_closure = True
        note_reporter_wrote(case, now)  # on the guardians' queue until they open the case
    elif case.detriment_after_closure is None:
        case.detriment_after_closure = False
    audit.record(audit.Action.CHECK_IN_GIVEN, audit.Actor.REPORTER, case_id=case.id)
