"""Changing a case's deadlines after it arrived: escalating from stage 1 to stage 2 under Scotland's National
Whistleblowing Standards, and extending the date to respond by, with a reason.

The Standards ask that the person is told when the time limit is extended and when they can expect a full
response, so the reason is sealed under the case key, which the reporter holds too: both sides read it. The dates
are plain (the queue sorts on them); the reason is never in the audit trail.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select

from speakup.crypto import labels, sealing
from speakup.domain import deadlines, workflow
from speakup.domain.handling import InvalidTransition, changes_case, check_version
from speakup.ops import audit
from speakup.platform import clock, dates
from speakup.platform.config import settings
from speakup.platform.inputs import InvalidInput, clean_text, required_text
from speakup.platform.models import Case, CaseEvent, DeadlineExtension, User, db
from speakup.platform.translation import gettext as _

MAX_REASON_CHARS = 2_000
LONGEST_EXTENSION_DAYS = 366  # a date further off is almost certainly a typing mistake

DATE_FIELDS = ("extend_day", "extend_month", "extend_year")


@dataclass(frozen=True)
class ExtensionView:
    created_at: datetime
    from_date: date
    to_date: date
    reason: str
    guardian_name: str


def extensions_of(case: Case, case_key: bytes) -> list[ExtensionView]:
    rows = db.session.scalars(
        select(DeadlineExtension).where(DeadlineExtension.case_id == case.id).order_by(DeadlineExtension.id)
    )
    return [
        ExtensionView(
            row.created_at,
            row.from_date,
            row.to_date,
            sealing.open_text(case_key, row.reason_ct, labels.extension(case.id, row.uid)),
            row.guardian.name if row.guardian else "A former guardian",
        )
        for row in rows
    ]


def can_escalate(case: Case) -> bool:
    return case.status != workflow.CLOSED and deadlines.stage_of(case.stage, settings().deadline_config) == 1


@changes_case
def escalate_to_stage_2(case: Case, guardian: User, expected_version: int | None) -> None:
    """Stage 1 becomes stage 2 (an investigation): acknowledged within 3 and answered within 20 working days of
    today, the day it was escalated."""
    check_version(case, expected_version)
    if not can_escalate(case):
        raise InvalidTransition(_("Only an open case at stage 1 of the Scottish standards can move to stage 2"))
    now = clock.utcnow()
    due = deadlines.stage_2_from(clock.uk_date(now))
    case.stage = 2
    case.acknowledge_by, case.feedback_by = due.acknowledge_by, due.feedback_by
    case.next_due = deadlines.next_due(case.status, case.acknowledge_by, case.feedback_by)
    case.updated_at = now
    db.session.add(CaseEvent(case_id=case.id, kind="escalated", guardian_id=guardian.id, created_at=now))
    audit.record(
        audit.Action.CASE_ESCALATED,
        audit.Actor.GUARDIAN,
        guardian.id,
        case_id=case.id,
        respond_by=due.feedback_by.isoformat(),
    )


def parse_date(day: object, month: object, year: object) -> date:
    """The three boxes of a date (the NHS.UK date input), as typed; InvalidInput by the first box otherwise."""
    parts = [clean_text(part) for part in (day, month, year)]
    if not all(re.fullmatch(r"[0-9]{1,4}", part) for part in parts):
        raise InvalidInput({DATE_FIELDS[0]: _("Enter the new date as a day, month and year, for example 27 3 2027")})
    try:
        return date(int(parts[2]), int(parts[1]), int(parts[0]))
    except ValueError:
        raise InvalidInput({DATE_FIELDS[0]: _("Enter a real date, for example 27 3 2027")}) from None


def _check_new_date(case: Case, new_date: date, today: date) -> None:
    earliest = max(case.feedback_by, today)  # an overdue case moves to a day still ahead, never to one gone by
    if new_date <= earliest:
        raise InvalidInput({DATE_FIELDS[0]: _("The new date must be after %(date)s", date=dates.written(earliest))})
    if new_date > today + timedelta(days=LONGEST_EXTENSION_DAYS):
        raise InvalidInput({DATE_FIELDS[0]: _("The new date must be within a year from today")})
    if deadlines.stage_of(case.stage, settings().deadline_config) == 1:
        received = clock.uk_date(case.created_at)
        longest = deadlines.working_days_after(received, deadlines.STAGE_1_LONGEST, deadlines.SCOTLAND)
        if new_date > longest:
            raise InvalidInput(
                {
                    DATE_FIELDS[0]: _(
                        "At stage 1 the response can wait until %(date)s at the latest (%(days)s working days after "
                        "it arrived). Move it to stage 2 for longer.",
                        date=dates.written(longest),
                        days=deadlines.STAGE_1_LONGEST,
                    )
                }
            )


def _check_reason(reason: object) -> str:
    missing = _("Say why more time is needed: the person who raised it will read this")
    return required_text(reason, "extend_reason", missing, MAX_REASON_CHARS, _("The reason"))


@changes_case
def extend_deadline(
    case: Case,
    case_key: bytes,
    guardian: User,
    new_date: date,
    reason: object,
    expected_version: int | None,
) -> None:
    """Moves the date to respond by later, with the reason (sealed). At stage 1 there is one deadline, so the
    date to acknowledge by moves with it."""
    check_version(case, expected_version)
    if case.status == workflow.CLOSED:
        raise InvalidTransition("A closed case has no deadline to extend")
    now = clock.utcnow()
    _check_new_date(case, new_date, clock.uk_date(now))
    text = _check_reason(reason)
    uid = secrets.token_hex(16)
    db.session.add(
        DeadlineExtension(
            uid=uid,
            case_id=case.id,
            guardian_id=guardian.id,
            from_date=case.feedback_by,
            to_date=new_date,
            reason_ct=sealing.seal_text(case_key, text, labels.extension(case.id, uid)),
            created_at=now,
        )
    )
    previous = case.feedback_by
    if deadlines.stage_of(case.stage, settings().deadline_config) == 1:
        case.acknowledge_by = new_date
    case.feedback_by = new_date
    case.next_due = deadlines.next_due(case.status, case.acknowledge_by, case.feedback_by)
    case.updated_at = now
    db.session.add(CaseEvent(case_id=case.id, kind="extended", guardian_id=guardian.id, created_at=now))
    audit.record(
        audit.Action.DEADLINE_EXTENDED,
        audit.Actor.GUARDIAN,
        guardian.id,
        case_id=case.id,
        from_date=previous.isoformat(),
        to_date=new_date.isoformat(),
    )
