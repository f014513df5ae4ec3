"""The domain: raising a concern, reading it back, messages and status. Shared by HTML and API.

Functions here take plain values and return plain values; views only parse and render.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from . import crypto, keyring, workflow
from .categories import ANONYMITY, SPEAK_UP_AGAIN, lists_for
from .models import Case, CaseGrant, Message, User, db, utcnow


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
    while True:
        reference = "SU-" + "".join(secrets.choice(crypto.ALPHABET) for _ in range(8))
        if db.session.scalar(select(Case.id).where(Case.reference == reference)) is None:
            return reference


def active_guardians(exclude_ids: tuple[int, ...] = ()) -> list[User]:
    query = select(User).where(User.role == "guardian", User.is_active.is_(True))
    if exclude_ids:
        query = query.where(User.id.not_in(exclude_ids))
    return list(db.session.scalars(query))


def raise_concern(concern: ConcernInput) -> RaisedConcern:
    """Stores a new concern sealed under a fresh case key, wrapped for every guardian, the
    recovery key and the reporter's access code. One transaction: all of it or none of it."""
    config = current_app.config
    recovery_key = keyring.recovery_public_key()
    now = utcnow()
    access_code = crypto.new_access_code()
    normalised = crypto.normalise_access_code(access_code)
    case = Case(
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
    try:
        db.session.add(case)
        db.session.flush()  # the case id goes into every associated data below
        case_key = crypto.new_case_key()
        text = {"what_happened": concern.what_happened, "where": concern.where, "when": concern.when}
        case.concern_ct = crypto.seal_text(
            case_key, json.dumps(text), crypto.associated_data(case.id, "concern", case.id)
        )
        if concern.anonymity != "anonymous":
            identity = {"name": concern.name, "contact": concern.contact}
            case.identity_ct = crypto.seal_text(
                case_key, json.dumps(identity), crypto.associated_data(case.id, "identity", case.id)
            )
        for guardian in active_guardians():
            keyring.grant_case_key(case, case_key, guardian)
        keyring.grant_recovery(case, case_key, recovery_key)
        keyring.grant_reporter(case, case_key, normalised)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return RaisedConcern(case.reference, access_code, case.status, case.acknowledge_by)


# --- Reading a case back -----------------------------------------------------------------


@dataclass(frozen=True)
class MessageView:
    author: str
    body: str
    created_at: datetime


@dataclass(frozen=True)
class CaseView:
    """A decrypted case. What a reporter may see is a subset; see ``for_reporter``."""

    id: int
    reference: str
    status: str
    created_at: datetime
    acknowledge_by: date
    feedback_by: date
    anonymity: str
    worker_group: str | None
    version: int
    what_happened: str
    where: str
    when: str
    messages: list[MessageView]
    name: str = ""
    contact: str = ""
    allowed_statuses: tuple[str, ...] = field(default=())

    @property
    def status_label(self) -> str:
        return workflow.REPORTER_LABELS[self.status]

    feedback_given: bool = False

    @property
    def feedback_requested(self) -> bool:
        return self.status == workflow.CLOSED and not self.feedback_given


def _message_aad(case_id: int, uid: str) -> bytes:
    return crypto.associated_data(case_id, "message", uid)


def open_case(case: Case, case_key: bytes, include_identity: bool) -> CaseView:
    text = json.loads(crypto.open_text(case_key, case.concern_ct, crypto.associated_data(case.id, "concern", case.id)))
    identity = {"name": "", "contact": ""}
    if include_identity and case.identity_ct:
        identity = json.loads(
            crypto.open_text(case_key, case.identity_ct, crypto.associated_data(case.id, "identity", case.id))
        )
    messages = [
        MessageView(m.author, crypto.open_text(case_key, m.body_ct, _message_aad(case.id, m.uid)), m.created_at)
        for m in case.messages
    ]
    return CaseView(
        id=case.id,
        reference=case.reference,
        status=case.status,
        created_at=case.created_at,
        acknowledge_by=case.acknowledge_by,
        feedback_by=case.feedback_by,
        anonymity=case.anonymity,
        worker_group=case.worker_group,
        version=case.version,
        what_happened=text["what_happened"],
        where=text["where"],
        when=text["when"],
        messages=messages,
        name=identity["name"],
        contact=identity["contact"],
        allowed_statuses=workflow.allowed_next(case.status),
        feedback_given=case.feedback_at is not None,
    )


def reporter_view(case: Case, case_key: bytes) -> CaseView:
    return open_case(case, case_key, include_identity=False)


def guardian_view(case: Case, case_key: bytes) -> CaseView:
    return open_case(case, case_key, include_identity=True)


def _commit_or_conflict() -> None:
    """Commits a change to a case, or reports that someone else changed it first (version column)."""
    try:
        db.session.commit()
    except StaleDataError as exc:
        db.session.rollback()
        raise CaseChanged() from exc


# --- Messages and status -----------------------------------------------------------------


def check_message(body: object) -> str:
    limit = current_app.config["MAX_MESSAGE_CHARS"]
    text = _clean(body)
    if not isinstance(body, str) or not text:
        raise InvalidInput({"body": "Write a message before sending it"})
    if len(text) > limit:
        raise InvalidInput({"body": f"Your message must be {limit:,} characters or fewer"})
    return text


def post_message(case: Case, case_key: bytes, author: str, body: object, guardian: User | None = None) -> Message:
    """Adds a sealed message. A reporter's reply puts a case waiting for them back to work."""
    text = check_message(body)
    uid = secrets.token_hex(16)
    message = Message(
        uid=uid,
        case_id=case.id,
        author=author,
        guardian_id=guardian.id if guardian else None,
        body_ct=crypto.seal_text(case_key, text, _message_aad(case.id, uid)),
        protocol=crypto.PROTOCOL,
        created_at=utcnow(),
    )
    db.session.add(message)
    if author == "reporter":
        case.status = workflow.status_after_reporter_reply(case.status)
    case.updated_at = message.created_at
    _commit_or_conflict()
    return message


def change_status(case: Case, target: str, expected_version: int | None = None) -> None:
    if expected_version is not None and expected_version != case.version:
        raise CaseChanged()
    if not workflow.can_move(case.status, target):
        raise InvalidTransition(f"A case that is {workflow.GUARDIAN_LABELS[case.status].lower()} cannot move there")
    case.status = target
    case.updated_at = utcnow()
    _commit_or_conflict()


def record_feedback(case: Case, speak_up_again: object, detriment: object = None) -> None:
    """The reporter's answer to "Given your experience, would you speak up again?"."""
    errors = {}
    if speak_up_again not in SPEAK_UP_AGAIN:
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
    case.detriment_reported = detriment
    case.feedback_at = utcnow()
    _commit_or_conflict()


# --- The guardian's cases ----------------------------------------------------------------


def cases_for_guardian(user_id: int, limit: int = 50) -> list[Case]:
    query = (
        select(Case)
        .join(CaseGrant, (CaseGrant.case_id == Case.id) & (CaseGrant.recipient == "guardian"))
        .where(CaseGrant.user_id == user_id)
        .order_by(Case.acknowledge_by, Case.id)
        .limit(limit)
    )
    return list(db.session.scalars(query))


def case_by_reference(reference: str) -> Case | None:
    return db.session.scalar(select(Case).where(Case.reference == reference))
