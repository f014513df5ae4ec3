"""Check-ins after closing: at set days after a case closed (CHECK_IN_DAYS, 90 and 365 by default) the reporter is
asked whether they have suffered detriment for speaking up since. A yes flags the case for its guardians (it is
listed on their queue as a reply waiting) and is counted in the national return and the board report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from speakup.domain import handling, workflow
from speakup.domain.categories import SPEAK_UP_AGAIN
from speakup.domain.handling import changes_case, note_reporter_wrote
from speakup.ops import audit
from speakup.platform import clock
from speakup.platform.config import settings
from speakup.platform.inputs import InvalidInput
from speakup.platform.models import Case
from speakup.platform.translation import gettext as _
from speakup.platform.translation import lazy_gettext as _l

# The reporter's words: "treated worse", never "detriment" (the national return's word, kept for the staff pages).
QUESTION = _l("Since your case was closed, have you been treated worse because you spoke up?")
TREATED_WORSE = _l("Have you been treated worse because you spoke up?")  # asked with "would you speak up again?"


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
        raise InvalidInput({"detriment": _("Answer yes or no")})
    due = due_check_ins(case, today)
    if due <= case.check_ins_answered:
        raise CheckInNotDue(_("There is no question waiting for an answer on this case."))  # the API says it
    now = clock.minute_now()
    case.check_ins_answered = due
    case.checked_in_at = now
    if detriment:
        case.detriment_after_closure = True
        note_reporter_wrote(case, now)  # on the guardians' queue until they open the case
    elif case.detriment_after_closure is None:
        case.detriment_after_closure = False
    audit.record(audit.Action.CHECK_IN_GIVEN, audit.Actor.REPORTER, case_id=case.id)


@dataclass(frozen=True)
class AfterClosing:
    """What the person is asked once their case is closed, in one form: "would you speak up again?" while they have
    not answered it, and one question about being treated worse. When a check-in is due that is the check-in's
    (an answer needed, counted as after closure); otherwise the feedback's own (optional). Never both."""

    speak_up_again: bool
    treated_worse: str  # the question's words, "" when nothing is asked
    since_closing: bool  # the question is the check-in's

    @property
    def asked(self) -> bool:
        return self.speak_up_again or self.since_closing


def after_closing(case: Case, today: date) -> AfterClosing:
    feedback = case.status == workflow.CLOSED and case.feedback_at is None
    check_in = check_in_requested(case, today)
    words = QUESTION if check_in else TREATED_WORSE if feedback else ""
    return AfterClosing(speak_up_again=feedback, treated_worse=words, since_closing=check_in)


def answer_after_closing(
    case: Case, speak_up_again: object, detriment: object, since_closing: object, today: date
) -> None:
    """The one form's answers, all kept or none: the feedback (``handling.record_feedback``, its optional
    ``detriment`` only when no check-in asks instead) and the check-in (``record_check_in``, from ``since_closing``).
    Every missing answer is refused at once, by its field. Nothing asked (answered meanwhile, reopened): as the
    feedback refuses it."""
    asked = after_closing(case, today)
    if not asked.asked:
        handling.record_feedback(case, speak_up_again, detriment)  # refuses: FeedbackNotOpen, or the answers
        return
    errors = {}
    if asked.speak_up_again and (not isinstance(speak_up_again, str) or speak_up_again not in SPEAK_UP_AGAIN):
        errors["speak_up_again"] = _("Choose yes, no, maybe or I don't know")
    if asked.since_closing and not isinstance(since_closing, bool):
        errors["since_closing"] = _("Answer yes or no")
    if not asked.since_closing and detriment is not None and not isinstance(detriment, bool):
        errors["detriment"] = _("Answer yes or no")
    if errors:
        raise InvalidInput(errors)
    # Each is an action: if the second is refused (another tab answered), the first is not kept either.
    if asked.speak_up_again:
        handling.record_feedback(case, speak_up_again, None if asked.since_closing else detriment)
    if asked.since_closing:
        record_check_in(case, since_closing, today)
