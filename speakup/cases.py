"""The domain: raising a concern, reading it back, messages and status. Shared by HTML and API.

Functions here take plain values and return plain values; views only parse and render.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from . import audit, crypto, keyring, notify, roster, workflow
from .caseview import CaseView, guardian_view, message_aad, reporter_view  # noqa: F401 - the views' one door
from .categories import ANONYMITY, OUTCOMES, SPEAK_UP_AGAIN, lists_for
from .inputs import parse_int
from .models import (
    Case,
    CaseEvent,
    CaseGrant,
    CaseNote,
    CaseTheme,
    Message,
    User,
    db,
    new_case_id,
    utcnow,
)

P = ParamSpec("P")
R = TypeVar("R")


class InvalidInput(Exception):
    """Input that breaks a rule. ``errors`` maps each field to a message a person can act on."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("invalid input: " + ", ".join(sorted(errors)))
        self.errors = errors


class InvalidTransition(Exception):
    """The case cannot move from its current status to the one asked for."""


class FeedbackNotOpen(Exception):
    """Feedback is asked for once a case is closed, and answered once."""


class CaseChanged(Exception):
    """Someone else changed the case since this page was loaded (optimistic locking)."""


# --- Raising a concern -------------------------------------------------------------------


@dataclass(frozen=True)
class ConcernInput:
    what_happened: str
    anonymity: str
    where: str = ""
    when: str = ""
    name: str = ""
    contact: str = ""
    worker_group: str = ""
    exclude_guardian: str = ""  # the id of a guardian who must never receive this concern


CONCERN_FIELDS = tuple(ConcernInput.__dataclass_fields__)


def _clean(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def check_concern(data: dict[str, object]) -> ConcernInput:
    """Applies every rule for a new concern in one place. Raises InvalidInput with all problems."""
    config = current_app.config
    errors: dict[str, str] = {}
    for key, value in data.items():
        if value is not None and not isinstance(value, str):
            errors[key] = f"{key} must be text"
    values = {key: _clean(data.get(key)) for key in CONCERN_FIELDS}

    if not values["what_happened"]:
        errors.setdefault("what_happened", "Tell us what happened")
    elif len(values["what_happened"]) > config["MAX_CONCERN_CHARS"]:
        errors["what_happened"] = f"What happened must be {config['MAX_CONCERN_CHARS']:,} characters or fewer"

    short_limit = config["MAX_SHORT_FIELD_CHARS"]
    for key, label in (("where", "Where"), ("when", "When"), ("name", "Your name"), ("contact", "How to contact you")):
        if len(values[key]) > short_limit:
            errors[key] = f"{label} must be {short_limit} characters or fewer"

    anonymity = values["anonymity"]
    if anonymity not in ANONYMITY:
        errors.setdefault("anonymity", "Choose how you want to raise this concern")
    elif anonymity == "anonymous":
        # Nothing identifying is stored for an anonymous concern, so refuse rather than drop it silently.
        if values["name"]:
            errors["name"] = "Leave your name out if you want to stay anonymous, or choose another option"
        if values["contact"]:
            errors["contact"] = "Leave contact details out if you want to stay anonymous, or choose another option"
    elif not values["name"]:
        errors.setdefault("name", "Enter your name, or choose to raise this anonymously")

    if values["worker_group"] and values["worker_group"] not in lists_for(date.today()).worker_groups:
        errors["worker_group"] = "Choose a staff group from the list"

    excluded = values["exclude_guardian"]
    if excluded and excluded not in {str(g.id) for g in all_guardians()}:
        errors["exclude_guardian"] = "Choose a guardian from the list, or leave it empty"

    if errors:
        raise InvalidInput(errors)
    return ConcernInput(**values)


@dataclass(frozen=True)
class RaisedConcern:
    reference: str
    access_code: str
    status: str
    acknowledge_by: date


def _new_reference() -> str:
    # Unique in the schema: a clash is refused there and raise_concern tries again.
    return "SU-" + "".join(secrets.choice(crypto.ALPHABET) for _ in range(8))


def all_guardians() -> list[User]:
    """Every guardian account, disabled ones too: a reporter may need to keep out a suspended guardian,
    who could otherwise receive the concern through sharing or recovery once re-enabled."""
    return list(db.session.scalars(select(User).where(User.role == "guardian").order_by(User.name)))


NEW_CASE_ATTEMPTS = 3


def raise_concern(concern: ConcernInput) -> RaisedConcern:
    """Stores a new concern sealed under a fresh case key, wrapped for every guardian on the verified roster,
    the recovery key and the reporter's access code. One transaction: all of it or none of it."""
    excluded = (int(concern.exclude_guardian),) if concern.exclude_guardian else ()
    verified = roster.current_roster()
    guardians = verified.guardians(exclude_ids=excluded)
    if verified.recovery_key is None:
        raise keyring.RecoveryKeyMissing()
    recovery_key = verified.recovery_key
    for attempt in range(1, NEW_CASE_ATTEMPTS + 1):
        try:
            raised = _store_new_case(concern, guardians, recovery_key, excluded)
            break
        except IntegrityError:
            # The random id or reference was already taken (about one raise in 20,000 at 100,000 cases):
            # draw new ones, with a new key and code, and try again.
            db.session.rollback()
            if attempt == NEW_CASE_ATTEMPTS:
                raise
        except Exception:
            db.session.rollback()
            raise
    notify.new_concern(guardians)
    return raised


def _store_new_case(
    concern: ConcernInput, guardians: list[roster.RosterMember], recovery_key: bytes, excluded: tuple[int, ...]
) -> RaisedConcern:
    config = current_app.config
    now = utcnow()
    access_code = crypto.new_access_code()
    normalised = crypto.normalise_access_code(access_code)
    case = Case(
        id=new_case_id(),
        reference=_new_reference(),
        access_lookup_id=crypto.access_code_lookup_id(config["TOKEN_PEPPER_BYTES"], normalised),
        status=workflow.RECEIVED,
        anonymity=concern.anonymity,
        worker_group=concern.worker_group or None,
        created_at=now,
        updated_at=now,
        acknowledge_by=workflow.acknowledge_by(now, config["ACK_DAYS"]),
        feedback_by=workflow.feedback_by(now, config["FEEDBACK_DAYS"]),
        protocol=crypto.PROTOCOL,
    )
    case.next_due = case.acknowledge_by
    # All the cryptography first: the id is known, so nothing below waits for the database or holds it.
    case_key = crypto.new_case_key()
    text = {"what_happened": concern.what_happened, "where": concern.where, "when": concern.when}
    case.concern_ct = crypto.seal_text(case_key, json.dumps(text), crypto.associated_data(case.id, "concern", case.id))
    if concern.anonymity != "anonymous":
        identity = {"name": concern.name, "contact": concern.contact}
        case.identity_ct = crypto.seal_text(
            case_key, json.dumps(identity), crypto.associated_data(case.id, "identity", case.id)
        )
    case.exclusions_ct = keyring.seal_exclusions(case.id, case_key, excluded)
    grants = keyring.wrap_new_case_key(case.id, case_key, guardians, recovery_key, normalised)
    # Then the writes, as short as they can be: on SQLite the first INSERT takes the database's write lock.
    db.session.add(case)
    db.session.add(CaseEvent(case_id=case.id, kind="raised", to_status=case.status, created_at=now))
    keyring.store_grants(grants)
    audit.record(audit.CASE_RAISED, "reporter", case_id=case.id)
    db.session.commit()
    return RaisedConcern(case.reference, access_code, case.status, case.acknowledge_by)


# Reading a case back lives in caseview.py; re-exported here so views need only this module.


def changes_case(action: Callable[P, R]) -> Callable[P, R]:
    """Wraps one change to a case: if another request changed the case first (the version column
    disagrees at any flush, not only the final commit), nothing is kept and CaseChanged is raised."""

    @wraps(action)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            result = action(*args, **kwargs)
            db.session.commit()
        except StaleDataError as exc:
            db.session.rollback()
            raise CaseChanged() from exc
        return result

    return guarded


def check_message(body: object) -> str:
    limit = current_app.config["MAX_MESSAGE_CHARS"]
    text = _clean(body)
    if not isinstance(body, str) or not text:
        raise InvalidInput({"body": "Write a message before sending it"})
    if len(text) > limit:
        raise InvalidInput({"body": f"Your message must be {limit:,} characters or fewer"})
    return text


def post_message(case: Case, case_key: bytes, author: str, body: object, guardian: User | None = None) -> Message:
    """Adds a sealed message. A reporter's reply puts a case waiting for them back to work, and
    tells its guardians (after the commit, so nobody is told about a reply that was not kept)."""
    message = _store_message(case, case_key, author, check_message(body), guardian)
    if author == "reporter":
        notify.reporter_replied(guardians_of(case))
    return message


@changes_case
def _store_message(case: Case, case_key: bytes, author: str, text: str, guardian: User | None) -> Message:
    # Messages never conflict with each other: each waits for the case row (PostgreSQL) and works from its
    # latest version, so fifty at once all land, and in the order they took the lock.
    db.session.refresh(case, with_for_update=True)
    now = utcnow()
    message = _sealed_message(case, case_key, author, text, guardian, now)
    if author == "reporter":
        before, after = case.status, workflow.status_after_reporter_reply(case.status)
        _move(case, after, now)
        audit.record(audit.MESSAGE_SENT, "reporter", case_id=case.id)
        if after != before:
            audit.record(audit.STATUS_CHANGED, "reporter", case_id=case.id, from_status=before, to_status=after)
    else:
        audit.record(audit.MESSAGE_SENT, "guardian", guardian.id if guardian else None, case_id=case.id)
    case.updated_at = now
    return message


def _sealed_message(
    case: Case, case_key: bytes, author: str, text: str, guardian: User | None, now: datetime
) -> Message:
    uid = secrets.token_hex(16)
    message = Message(
        uid=uid,
        case_id=case.id,
        author=author,
        guardian_id=guardian.id if guardian else None,
        body_ct=crypto.seal_text(case_key, text, message_aad(case.id, uid)),
        protocol=crypto.PROTOCOL,
        created_at=now,
    )
    db.session.add(message)
    return message


def _check_version(case: Case, expected_version: int | None) -> None:
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
    case.next_due = workflow.next_due(target, case.acknowledge_by, case.feedback_by)
    case.updated_at = now


@changes_case
def change_status(
    case: Case, target: str, guardian: User, expected_version: int | None = None, show_name: bool = False
) -> None:
    """Any move the status machine allows, except closing, which needs an outcome and a message."""
    _check_version(case, expected_version)
    if target == workflow.CLOSED:
        raise InvalidTransition("Close a case with the closing form: it needs an outcome and a message")
    if not workflow.can_move(case.status, target):
        raise InvalidTransition(f"A case that is {workflow.GUARDIAN_LABELS[case.status].lower()} cannot move there")
    reopening = case.status == workflow.CLOSED
    before = case.status
    _move(case, target, utcnow(), guardian, show_name)
    action = audit.CASE_REOPENED if reopening else audit.STATUS_CHANGED
    audit.record(action, "guardian", guardian.id, case_id=case.id, from_status=before, to_status=target)


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
) -> None:
    """Closes with an outcome and a closing message to the reporter, who is then asked for feedback.

    ``learning`` ("you said, we did": what the organisation learned and changed) is sealed with the
    case; only when ``share_learning`` is set does the board report show it.
    """
    _check_version(case, expected_version)
    errors: dict[str, str] = {}
    if outcome not in OUTCOMES:
        errors["outcome"] = "Choose the outcome of this case"
    try:
        text = check_message(message)
    except InvalidInput:
        errors["closing_message"] = "Write a closing message to the person who raised this"
    lesson = _clean(learning)
    if len(lesson) > current_app.config["MAX_MESSAGE_CHARS"]:
        errors["learning"] = f"What was learned must be {current_app.config['MAX_MESSAGE_CHARS']:,} characters or fewer"
    if share_learning and not lesson:
        errors["learning"] = "Write what was learned before sharing it with the board"
    if errors:
        raise InvalidInput(errors)
    if not workflow.can_move(case.status, workflow.CLOSED):
        raise InvalidTransition("This case is already closed")
    now = utcnow()
    if lesson:
        case.learning_ct = crypto.seal_text(case_key, lesson, crypto.associated_data(case.id, "learning", case.id))
        case.learning_shareable = share_learning
    _sealed_message(case, case_key, "guardian", text, guardian, now)
    before = case.status
    _move(case, workflow.CLOSED, now, guardian, show_name)
    case.outcome = str(outcome)
    case.closed_at = now
    audit.record(audit.CASE_CLOSED, "guardian", guardian.id, case_id=case.id, from_status=before, outcome=str(outcome))


@changes_case
def assign_case(case: Case, assignee_id: object, guardian: User, expected_version: int | None = None) -> None:
    """Assigns a case to a guardian who can open it, or unassigns it (empty value)."""
    _check_version(case, expected_version)
    assignee = None
    if assignee_id not in (None, ""):
        user_id = parse_int(assignee_id)
        assignee = db.session.get(User, user_id) if user_id is not None else None
        if assignee is None or assignee.role != "guardian":
            raise InvalidInput({"assignee": "Choose a guardian from the list"})
        if not assignee.is_active:
            raise InvalidInput({"assignee": f"{assignee.name}'s account is disabled: choose another guardian"})
        if not keyring.holds_grant(case.id, assignee.id):
            raise InvalidInput({"assignee": f"{assignee.name} cannot open this case yet: share it with them first"})
    case.assigned_to_id = assignee.id if assignee else None
    case.updated_at = utcnow()
    db.session.add(CaseEvent(case_id=case.id, kind="assigned", guardian_id=guardian.id, created_at=case.updated_at))
    audit.record(
        audit.CASE_ASSIGNED, "guardian", guardian.id, case_id=case.id, guardian_id=assignee.id if assignee else None
    )


@changes_case
def record_for_return(
    case: Case, themes: list[str], worker_group: str, detriment: str, guardian: User, expected_version: int | None
) -> None:
    """The plain, countable facts of a case for the national return: themes, staff group, detriment."""
    _check_version(case, expected_version)
    lists = lists_for(workflow.london_today(case.created_at))
    errors: dict[str, str] = {}
    if any(theme not in lists.themes for theme in themes):
        errors["themes"] = "Choose themes from the list"
    if worker_group and worker_group not in lists.worker_groups:
        errors["worker_group"] = "Choose a staff group from the list"
    if detriment not in ("", "yes", "no"):
        errors["detriment"] = "Answer yes, no, or leave it unanswered"
    if errors:
        raise InvalidInput(errors)
    case.themes = [CaseTheme(case_id=case.id, theme=theme) for theme in sorted(set(themes))]
    case.worker_group = worker_group or None
    case.detriment_reported = {"yes": True, "no": False}.get(detriment)
    case.updated_at = utcnow()
    audit.record(audit.DETAILS_RECORDED, "guardian", guardian.id, case_id=case.id)


def add_note(case: Case, case_key: bytes, guardian: User, body: object) -> CaseNote:
    """A note for guardians only, sealed under the case key. The reporter never sees it."""
    try:
        text = check_message(body)
    except InvalidInput as exc:
        raise InvalidInput({"note": exc.errors["body"].replace("message", "note")}) from None
    uid = secrets.token_hex(16)
    note = CaseNote(
        uid=uid,
        case_id=case.id,
        guardian_id=guardian.id,
        body_ct=crypto.seal_text(case_key, text, crypto.associated_data(case.id, "note", uid)),
        protocol=crypto.PROTOCOL,
        created_at=utcnow(),
    )
    db.session.add(note)
    audit.record(audit.NOTE_ADDED, "guardian", guardian.id, case_id=case.id)
    db.session.commit()
    return note


def guardians_of(case: Case) -> list[User]:
    """Active guardians who hold a key for this case: the only people told it needs attention."""
    return list(
        db.session.scalars(
            select(User)
            .join(CaseGrant, (CaseGrant.user_id == User.id) & (CaseGrant.recipient == "guardian"))
            .where(CaseGrant.case_id == case.id, User.is_active.is_(True))
        )
    )


@changes_case
def record_feedback(case: Case, speak_up_again: object, detriment: object = None) -> None:
    """The reporter's answer to "Given your experience, would you speak up again?"."""
    errors = {}
    # A list or object from the API is not hashable: check the type before looking it up.
    if not isinstance(speak_up_again, str) or speak_up_again not in SPEAK_UP_AGAIN:
        errors["speak_up_again"] = "Choose yes, no, maybe or I don't know"
    if detriment is not None and not isinstance(detriment, bool):
        errors["detriment"] = "Answer yes or no"
    if errors:
        raise InvalidInput(errors)
    if case.status != workflow.CLOSED:
        raise FeedbackNotOpen("Feedback can be given once the case is closed.")
    if case.feedback_at is not None:
        raise FeedbackNotOpen("Feedback for this case has already been given. Thank you.")
    case.speak_up_again = str(speak_up_again)
    if detriment is not None:
        case.detriment_reported = detriment
    case.feedback_at = utcnow()
    audit.record(audit.FEEDBACK_GIVEN, "reporter", case_id=case.id)


# --- The guardian's cases ----------------------------------------------------------------


def case_by_reference(reference: str) -> Case | None:
    return db.session.scalar(select(Case).where(Case.reference == reference))


REFERENCE_CHARS = 8
_REFERENCE_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})


def normalise_reference(typed: str) -> str | None:
    """"su-abcd 1234", "ABCD1234" and "SU ABCD-1234" all mean SU-ABCD1234; None when it cannot be a reference."""
    cleaned = "".join(typed.split()).replace("-", "").upper()
    if len(cleaned) == REFERENCE_CHARS + 2 and cleaned.startswith("SU"):
        cleaned = cleaned[2:]
    cleaned = cleaned.translate(_REFERENCE_CONFUSABLE)
    if len(cleaned) != REFERENCE_CHARS or any(char not in crypto.ALPHABET for char in cleaned):
        return None
    return "SU-" + cleaned


def reference_openable_by(typed: str, user_id: int) -> str | None:
    """The reference of the case ``typed`` names, if this guardian holds its key; None for a missing case and for
    one they cannot open alike."""
    reference = normalise_reference(typed)
    case = case_by_reference(reference) if reference else None
    if case is None or not keyring.holds_grant(case.id, user_id):
        return None
    return case.reference
