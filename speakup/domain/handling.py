"""What is done to a case once it is raised: messages, status moves (the ones ``workflow`` allows), assignment,
notes, closing with an outcome, the reporter's feedback and the facts counted for the national return.

A form's values come in as they were sent (``object``) and are checked here, so the HTML pages and the API share
every rule. ``changes_case`` and ``check_version`` turn two guardians changing one case at once into a conflict
(``CaseChanged``), never an overwrite.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection
from datetime import datetime
from functools import wraps
from typing import ParamSpec, TypeVar

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from speakup.crypto import labels, sealing
from speakup.domain import deadlines, stage_two, workflow
from speakup.domain.categories import SPEAK_UP_AGAIN, YES_NO, lists_for, yes_no
from speakup.keys import grants
from speakup.ops import audit, notify
from speakup.platform import clock, transactions
from speakup.platform.config import settings
from speakup.platform.inputs import InvalidInput, clean_text, parse_int, required_text
from speakup.platform.models import (
    Author,
    Case,
    CaseEvent,
    CaseGrant,
    CaseNote,
    CaseTheme,
    GrantRecipient,
    Message,
    Role,
    User,
    db,
)
from speakup.platform.translation import gettext as _

P = ParamSpec("P")

R = TypeVar("R")


class InvalidTransition(Exception):
    """The case cannot move from its current status to the one asked for."""


class FeedbackNotOpen(Exception):
    """Feedback is asked for once a case is closed, and answered once."""


class CaseChanged(Exception):
    """Someone else changed the case since this page was loaded (optimistic locking)."""


def changes_case(change: Callable[P, R]) -> Callable[P, R]:
    """Wraps one change to a case (a ``transactions.action``): if another request changed the case first (the
    version column disagrees at a flush), nothing is kept and CaseChanged is raised."""
    refusable = transactions.action(change)

    @wraps(change)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return refusable(*args, **kwargs)
        except StaleDataError as exc:
            raise CaseChanged() from exc

    return guarded


def check_message(body: object) -> str:
    return required_text(
        body, "body", _("Write a message before sending it"), settings().max_message_chars, _("Your message")
    )


def post_message(case: Case, case_key: bytes, author: Author, body: object, guardian: User | None = None) -> Message:
    """Adds a sealed message. A reporter's reply puts a case waiting for them back to work, and
    tells its guardians (queued in the same transaction, so nobody is told about a reply that was not kept)."""
    message = _store_message(case, case_key, author, check_message(body), guardian)
    if author == Author.REPORTER:
        notify.reporter_replied(guardians_of(case))
    return message


def note_reporter_wrote(case: Case, now: datetime) -> None:
    """The reporter wrote (a message, a file, detriment at a check-in): the case goes up its guardians' queues with a
    reply waiting until each opens it. Counted in the database, so two at once both count."""
    case.reporter_wrote_at = now
    case.reporter_writes = Case.reporter_writes + 1


@changes_case
def _store_message(case: Case, case_key: bytes, author: Author, text: str, guardian: User | None) -> Message:
    # Messages never conflict with each other: each waits for the case row (PostgreSQL) and works from its
    # latest version, so fifty at once all land, and in the order they took the lock.
    db.session.refresh(case, with_for_update=True)
    now = clock.minute_now() if author == Author.REPORTER else clock.utcnow()
    message = _sealed_message(case, case_key, author, text, guardian, now)
    if author == Author.REPORTER:
        note_reporter_wrote(case, now)
        before, after = case.status, workflow.status_after_reporter_reply(case.status)
        _move(case, after, now)
        audit.record(audit.Action.MESSAGE_SENT, audit.Actor.REPORTER, case_id=case.id)
        if after != before:
            audit.record(
                audit.Action.STATUS_CHANGED, audit.Actor.REPORTER, case_id=case.id, from_status=before, to_status=after
            )
    else:
        audit.record(
            audit.Action.MESSAGE_SENT, audit.Actor.GUARDIAN, guardian.id if guardian else None, case_id=case.id
        )
    case.updated_at = now
    return message


def _sealed_message(
    case: Case, case_key: bytes, author: Author, text: str, guardian: User | None, now: datetime
) -> Message:
    uid = secrets.token_hex(16)
    message = Message(
        uid=uid,
        case_id=case.id,
        author=author,
        guardian_id=guardian.id if guardian else None,
        body_ct=sealing.seal_text(case_key, text, labels.message(case.id, uid)),
        protocol=sealing.PROTOCOL,
        created_at=now,
    )
    db.session.add(message)
    return message


def check_version(case: Case, expected_version: int | None) -> None:
    """CaseChanged when the form was loaded at another version of the case than the one stored now."""
    if expected_version is not None and expected_version != case.version:
        raise CaseChanged()


def _move(case: Case, target: str, now: datetime, guardian: User | None = None, show_name: bool = False) -> None:
    """Moves a case and writes the timeline entry the reporter sees. The only place status changes."""
    if target == case.status:
        return
    kind = "reopened" if case.status == workflow.CLOSED else ("closed" if target == workflow.CLOSED else "status")
    db.session.add(
        CaseEvent(
            case_id=case.id,
            kind=kind,
            from_status=case.status,
            to_status=target,
            guardian_id=guardian.id if guardian else None,
            show_guardian_name=show_name and guardian is not None,
            created_at=now,
        )
    )
    if target == workflow.ACKNOWLEDGED and case.acknowledged_at is None:
        case.acknowledged_at = now
    if kind == "reopened":
        case.closed_at = None
        case.outcome = None
    case.status = target
    case.next_due = deadlines.next_due(target, case.acknowledge_by, case.feedback_by)
    case.updated_at = now


@changes_case
def change_status(
    case: Case, target: str, guardian: User, expected_version: int | None = None, show_name: bool = False
) -> None:
    """Any move the status machine allows, except closing, which needs an outcome and a message. No status chosen
    (the form starts on a blank choice, so one press never changes what the reporter sees) changes nothing."""
    if not target:
        raise InvalidInput({"status": _("Choose a new status")})
    check_version(case, expected_version)
    if target == workflow.CLOSED:
        raise InvalidTransition(_("Close a case with the closing form: it needs an outcome and a message"))
    if not workflow.can_move(case.status, target):
        raise InvalidTransition(
            _("A case that is %(status)s cannot move there", status=str(workflow.GUARDIAN_LABELS[case.status]).lower())
        )
    reopening = case.status == workflow.CLOSED
    before = case.status
    _move(case, target, clock.utcnow(), guardian, show_name)
    action = audit.Action.CASE_REOPENED if reopening else audit.Action.STATUS_CHANGED
    audit.record(action, audit.Actor.GUARDIAN, guardian.id, case_id=case.id, from_status=before, to_status=target)


@changes_case
def close_case(
    case: Case,
    case_key: bytes,
    guardian: User,
    outcome: object,
    message: object,
    expected_version: int | None = None,
    show_name: bool = False,
    learning: object = "",
    share_learning: bool = False,
    response_parts: Collection[str] = (),
    named_contact: object = "",
) -> None:
    """Closes with an outcome and a closing message to the reporter, who is then asked for feedback.

    ``learning`` ("you said, we did": what the organisation learned and changed) is sealed with the
    case; only when ``share_learning`` is set does the board report show it. A stage 2 case under Scotland's
    Standards closes with their outcome and a whole response (``response_parts`` the guardian confirmed their
    message gives, and ``named_contact``, added to the message): domain/stage_two.py.
    """
    check_version(case, expected_version)
    errors: dict[str, str] = {}
    contact = clean_text(named_contact)
    if stage_two.applies(case.stage):
        errors.update(stage_two.check_response(outcome, response_parts, contact))
    if outcome not in stage_two.outcome_choices(case.stage):
        errors.setdefault("outcome", _("Choose the outcome of this case"))
    try:
        text = check_message(message)
    except InvalidInput:
        errors["closing_message"] = _("Write a closing message to the person who raised this")
    lesson = clean_text(learning)
    limit = settings().max_message_chars
    if len(lesson) > limit:
        errors["learning"] = _("What was learned must be %(limit)s characters or fewer", limit=format(limit, ","))
    if share_learning and not lesson:
        errors["learning"] = _("Write what was learned before sharing it with the board")
    if errors:
        raise InvalidInput(errors)
    if not workflow.can_move(case.status, workflow.CLOSED):
        raise InvalidTransition(_("This case is already closed"))
    now = clock.utcnow()
    if lesson:
        case.learning_ct = sealing.seal_text(case_key, lesson, labels.learning(case.id))
        case.learning_shareable = share_learning
    if contact and stage_two.applies(case.stage) and outcome not in stage_two.ENDED_WITHOUT_RESPONSE:
        text = stage_two.with_named_contact(text, contact)
    _sealed_message(case, case_key, Author.GUARDIAN, text, guardian, now)
    before = case.status
    _move(case, workflow.CLOSED, now, guardian, show_name)
    case.outcome = str(outcome)
    case.closed_at = now
    audit.record(
        audit.Action.CASE_CLOSED,
        audit.Actor.GUARDIAN,
        guardian.id,
        case_id=case.id,
        from_status=before,
        outcome=str(outcome),
    )


@changes_case
def assign_case(case: Case, assignee_id: object, guardian: User, expected_version: int | None = None) -> None:
    """Assigns a case to a guardian who can open it, or unassigns it (empty value)."""
    check_version(case, expected_version)
    assignee = None
    if assignee_id not in (None, ""):
        user_id = parse_int(assignee_id)
        assignee = db.session.get(User, user_id) if user_id is not None else None
        if assignee is None or assignee.role != Role.GUARDIAN:
            raise InvalidInput({"assignee": _("Choose a guardian from the list")})
        if not assignee.is_active:
            raise InvalidInput(
                {"assignee": _("%(name)s's account is disabled: choose another guardian", name=assignee.name)}
            )
        if not grants.holds_grant(case.id, assignee.id):
            raise InvalidInput(
                {"assignee": _("%(name)s cannot open this case yet: share it with them first", name=assignee.name)}
            )
    case.assigned_to_id = assignee.id if assignee else None
    case.updated_at = clock.utcnow()
    db.session.add(CaseEvent(case_id=case.id, kind="assigned", guardian_id=guardian.id, created_at=case.updated_at))
    audit.record(
        audit.Action.CASE_ASSIGNED,
        audit.Actor.GUARDIAN,
        guardian.id,
        case_id=case.id,
        guardian_id=assignee.id if assignee else None,
    )


@changes_case
def record_for_return(
    case: Case, themes: list[str], worker_group: str, detriment: str, guardian: User, expected_version: int | None
) -> None:
    """The plain, countable facts of a case for the national return: themes, staff group, detriment."""
    check_version(case, expected_version)
    lists = lists_for(clock.uk_date(case.created_at))
    errors: dict[str, str] = {}
    if any(theme not in lists.themes for theme in themes):
        errors["themes"] = _("Choose themes from the list")
    if worker_group and worker_group not in lists.worker_groups:
        errors["worker_group"] = _("Choose a staff group from the list")
    if detriment not in ("", *YES_NO):
        errors["detriment"] = _("Answer yes, no, or leave it unanswered")
    if errors:
        raise InvalidInput(errors)
    case.themes = [CaseTheme(case_id=case.id, theme=theme) for theme in sorted(set(themes))]
    case.worker_group = worker_group or None
    case.detriment_reported = yes_no(detriment)
    case.updated_at = clock.utcnow()
    audit.record(audit.Action.DETAILS_RECORDED, audit.Actor.GUARDIAN, guardian.id, case_id=case.id)


@transactions.action
def add_note(case: Case, case_key: bytes, guardian: User, body: object) -> CaseNote:
    """A note for guardians only, sealed under the case key. The reporter never sees it."""
    text = required_text(
        body, "note", _("Write a note before sending it"), settings().max_message_chars, _("Your note")
    )
    uid = secrets.token_hex(16)
    note = CaseNote(
        uid=uid,
        case_id=case.id,
        guardian_id=guardian.id,
        body_ct=sealing.seal_text(case_key, text, labels.note(case.id, uid)),
        protocol=sealing.PROTOCOL,
        created_at=clock.utcnow(),
    )
    db.session.add(note)
    audit.record(audit.Action.NOTE_ADDED, audit.Actor.GUARDIAN, guardian.id, case_id=case.id)
    return note


def guardians_of(case: Case) -> list[User]:
    """Active guardians who hold a key for this case, by name: the only people it can be assigned to, and the
    only people told it needs attention."""
    return list(
        db.session.scalars(
            select(User)
            .join(CaseGrant, (CaseGrant.user_id == User.id) & (CaseGrant.recipient == GrantRecipient.GUARDIAN))
            .where(CaseGrant.case_id == case.id, User.is_active.is_(True))
            .order_by(User.name)
        )
    )


@changes_case
def record_feedback(case: Case, speak_up_again: object, detriment: object = None) -> None:
    """The reporter's answer to "Given your experience, would you speak up again?"."""
    errors = {}
    # A list or object from the API is not hashable: check the type before looking it up.
    if not isinstance(speak_up_again, str) or speak_up_again not in SPEAK_UP_AGAIN:
        errors["speak_up_again"] = _("Choose yes, no, maybe or I don't know")
    if detriment is not None and not isinstance(detriment, bool):
        errors["detriment"] = _("Answer yes or no")
    if errors:
        raise InvalidInput(errors)
    if case.status != workflow.CLOSED:
        raise FeedbackNotOpen(_("Feedback can be given once the case is closed."))
    if case.feedback_at is not None:
        raise FeedbackNotOpen(_("Feedback for this case has already been given. Thank you."))
    case.speak_up_again = str(speak_up_again)
    if isinstance(detriment, bool):  # or None: anything else was refused above
        case.detriment_reported = detriment
    case.feedback_at = clock.minute_now()
    audit.record(audit.Action.FEEDBACK_GIVEN, audit.Actor.REPORTER, case_id=case.id)
