"""Append-only, hash-chained audit events.

Each row carries the hash of the row before it (``prev_hash``) and its own ``hash``: an HMAC-SHA256, keyed with
the server pepper, over a canonical serialisation of its content and ``prev_hash``. Editing, deleting or reordering
rows breaks the chain where it happened, and someone who can write to the database but does not hold the pepper
cannot recompute the chain to hide it. ``flask speakup audit verify`` walks the chain. Each row is hashed under the
pepper in force; how the chain goes on across a rotation of the pepper, and how it is verified, is
speakup/ops/audit_chain.py's.

Audit rows never contain concern text, messages, reporter identity or access codes. ``record`` enforces this rather
than trusting its callers: actions come from a fixed list, detail keys from an allow-list, and detail values must be
short plain scalars (str, int, bool or None). A reporter is never recorded with an id or an email.

Limit: the chain shows edits and deletions *within* it, but not the removal of the newest rows at its end. The
verify command prints the latest event's id and hash so an operator can note it elsewhere (a ticket, a signed
report) and later check that the chain still reaches it.
"""

from __future__ import annotations

import json
import logging
from enum import StrEnum

from sqlalchemy import select, text

from speakup.crypto import access_codes
from speakup.ops import audit_chain
from speakup.ops.audit_chain import DELETED_OR_REORDERED as DELETED_OR_REORDERED
from speakup.ops.audit_chain import EDITED as EDITED
from speakup.ops.audit_chain import GENESIS_HASH as GENESIS_HASH
from speakup.ops.audit_chain import HASH_PURPOSE as HASH_PURPOSE
from speakup.ops.audit_chain import OLDER_PEPPER as OLDER_PEPPER
from speakup.ops.audit_chain import PEPPER_ROTATED, row_hash
from speakup.ops.audit_chain import STALE_PEPPER as STALE_PEPPER
from speakup.ops.audit_chain import BrokenLink as BrokenLink
from speakup.ops.audit_chain import ChainCheck as ChainCheck
from speakup.ops.audit_chain import canonical as _canonical  # noqa: F401 - the tests forge rows with it
from speakup.ops.audit_chain import check_chain as check_chain
from speakup.ops.audit_chain import is_genuine as is_genuine
from speakup.ops.audit_chain import newest_is_current as newest_is_current
from speakup.platform import clock, transactions
from speakup.platform.models import AuditEvent, Role, db

logger = logging.getLogger(__name__)

# --- Actions ---------------------------------------------------------------------------------


class Action(StrEnum):
    """Every action the trail records, the one list: ``record`` refuses anything else. Each member is recorded
    somewhere (tests/unit/test_audit_actions.py). Older rows may hold an action no longer listed, such as
    "account_updated" (stats tokens before they had their own): the chain is checked on the stored text alone."""

    SIGN_IN_OK = "sign_in_ok"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_OUT = "sign_out"
    AUDIT_RESTORE_ACCEPTED = "audit_restore_accepted"  # after a restore: its head, signed into the anchor file
    RECOVERY_KEY_ROTATED = "recovery_key_rotated"  # every case re-wrapped for a new recovery key: how many, in count
    ORGANISATION_KEY_ROTATED = "organisation_key_rotated"  # the roster's root handed over to a new signing key
    SESSION_TIMED_OUT = "session_timed_out"  # a staff session found idle (or too old) and ended: whose, in user_id
    CASE_RAISED = "case_raised"
    CASE_RECORDED = "case_recorded"  # a guardian recorded a concern raised in person, by phone, letter...
    CASE_VIEWED = "case_viewed"  # a guardian decrypted the case
    STATUS_CHANGED = "status_changed"
    CASE_ASSIGNED = "case_assigned"
    CASE_CLOSED = "case_closed"
    CASE_REOPENED = "case_reopened"
    MESSAGE_SENT = "message_sent"
    NOTE_ADDED = "note_added"
    ATTACHMENT_ADDED = "attachment_added"
    REFERRAL_RECORDED = "referral_recorded"  # who a referred case went to (the coded value), its note sealed
    DETAILS_RECORDED = "details_recorded"  # themes, staff group or detriment for the national return
    FEEDBACK_GIVEN = "feedback_given"
    CHECK_IN_GIVEN = (
        "check_in_given"  # the reporter answered a check-in after closing (the answer is not recorded here)
    )
    CASE_ESCALATED = "case_escalated"  # moved from stage 1 to stage 2 (Scotland's National Whistleblowing Standards)
    DEADLINE_EXTENDED = (
        "deadline_extended"  # the date to respond by was moved later (the dates here; the reason sealed)
    )
    CASE_SHARED = "case_shared"  # a guardian's key grant for the case was created
    SHARE_REQUESTED = (
        "share_requested"  # asked to share with a guardian the reporter excluded (needs a second guardian)
    )
    SHARE_REQUEST_CANCELLED = "share_request_cancelled"
    ACCESS_CODE_REPLACED = "access_code_replaced"  # a guardian gave the reporter a new code; the old one opens nothing
    EXPORT = "export"
    ACCOUNT_CREATED = "account_created"
    ACCOUNT_DISABLED = "account_disabled"
    ACCOUNT_ENABLED = "account_enabled"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - an action name, not a password
    PASSWORD_RESET = "password_reset"  # noqa: S105 - an action name, not a password
    RECOVERY = "recovery"  # the offline recovery key was used
    CASES_PURGED = "cases_purged"  # retention crypto-shredded cases: one event per run (count), one per case
    ENROLMENT_LINK_ISSUED = "enrolment_link_issued"  # an administrator added an account or reset one: a new link
    ACCOUNT_ENROLLED = "account_enrolled"  # the person chose their password and made their keys
    GUARDIAN_APPROVED = "guardian_approved"  # an approval was signed into the roster log
    ROSTER_ALARM = "roster_alarm"  # the roster log or a guardian's account did not verify: left out, or nobody believed
    ROSTER_KEY_CREATED = "roster_key_created"  # the organisation signing key was made (init or upgrade)
    ROSTER_ACCEPTED = "roster_accepted"  # the organisation key signed a new checkpoint of the roster log
    STATS_TOKEN_CREATED = "stats_token_created"  # noqa: S105 - an action name: a token for GET /api/v1/stats was made
    STATS_TOKEN_REVOKED = "stats_token_revoked"  # noqa: S105 - an action name, not a token
    PEPPER_ROTATED = PEPPER_ROTATED  # `speakup rotate-pepper`: the old and new pepper's ids; hashed under the new one


ACTIONS = frozenset(Action)


class Actor(StrEnum):
    """Who acted. A staff member acts as their role, so ``record(action, user.role, user.id)`` needs no mapping."""

    GUARDIAN = Role.GUARDIAN.value
    ADMIN = Role.ADMIN.value
    REPORTER = "reporter"  # never with an id
    SYSTEM = "system"  # a command, a timer, or the server itself


ACTOR_TYPES = frozenset(Actor)

# Plain, non-identifying facts only. ``email`` is a staff account's address, never a reporter's.
DETAIL_KEYS = frozenset(
    {
        "status",
        "from_status",
        "to_status",
        "email",
        "role",
        "count",
        "outcome",
        "guardian_id",
        "user_id",  # the staff account acted upon (account events)
        "reason",  # a short fixed reason such as "wrong_password", never free text from a form
        "format",  # export format
        "request",  # a share request's random id: its answer is then in the chain (domain/sharing.py)
        "period",  # export reporting period, such as "2024-Q1"
        "version",  # which national return: "submission" (exact counts) or "published" (suppressed)
        "by",  # who approved a guardian: "guardian" or "organisation"
        "channel",  # how a recorded concern was raised (in person, phone...)
        "referred_to",  # who a referred case went to, a coded value
        "respond_by",  # the new date to respond by after escalating to stage 2 (ISO date)
        "from_date",  # a deadline extension: the date it was, and the date it became (ISO dates)
        "to_date",
        "code_generation",  # which access code a case's reporter holds (keys/grants.py), never the code
        "old_pepper",  # a pepper rotation: the ids of the pepper replaced and of the new one (never a pepper)
        "new_pepper",
        # The keyed hash an enrolment link or statistics token is stored by (never the token): that it was issued,
        # used or revoked is then in the chain, which a database writer cannot rewrite (domain/enrolment.py).
        "token_hash",
    }
)
MAX_DETAIL_VALUE_CHARS = 254  # the longest email address; anything longer is not a plain fact
MAX_DETAIL_CHARS = 2000  # the column's size

# Serialises writers on PostgreSQL for the whole transaction, so two transactions never chain onto the same row.
ADVISORY_LOCK_KEY = 0x53706B5541756474  # "SpkUAudt"


# --- Writing -----------------------------------------------------------------------------------

STALE_CHAIN_ERROR = (
    "Audit chain not under the current pepper: its newest event is a rotation to a pepper this process does not "
    "have as SPEAKUP_TOKEN_PEPPER, so nothing is added to it: give it the environment file's new lines from "
    "`speakup rotate-pepper` (docs/deploy.md, 'Rotating the pepper')"
)


class ChainNotCurrent(RuntimeError):
    """The chain was rotated to a pepper this process does not have: no event is added (``STALE_CHAIN_ERROR``)."""


READING_ACTIONS = frozenset({Action.CASE_VIEWED, Action.EXPORT})


def record_reading(
    action: str, actor_type: str, actor_id: int | None = None, case_id: int | None = None, **detail: object
) -> None:
    """Who read or exported what (a case viewed, a file downloaded, a return exported), written at the request's
    commit, before the page leaves (platform/transactions.py): no lock is held while the page is drawn."""
    if action not in READING_ACTIONS:
        raise ValueError(f"{action!r} is a change, not a reading: record it with the change")
    _check_event(action, actor_type, actor_id, case_id, detail)  # refused now, by the caller, not at the commit
    transactions.at_commit(lambda: record(action, actor_type, actor_id, case_id, **detail))


def record(
    action: str, actor_type: str, actor_id: int | None = None, case_id: int | None = None, **detail: object
) -> AuditEvent:
    """Add one event to ``db.session``; the caller commits, so it lands in the same transaction as the change.

    The event never contains concern text, messages or access codes: unknown actions, detail keys outside
    ``DETAIL_KEYS`` and anything but short str/int/bool/None values raise ``ValueError``. On PostgreSQL the
    transaction holds an advisory lock from here until it ends (commit or rollback), so keep it short; run it at
    the default READ COMMITTED isolation, so the latest row is read after the lock is taken.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if actor_type not in ACTOR_TYPES:
        raise ValueError(f"unknown audit actor type {actor_type!r}")
    if actor_type == Actor.REPORTER and actor_id is not None:
        raise ValueError("a reporter is never recorded with an id")
    for name, value in (("actor_id", actor_id), ("case_id", case_id)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise ValueError(f"{name} must be an int or None")
    detail_text = _detail_text(actor_type, detail)

    # The change's own rows first (their row locks), then the chain's lock: every writer takes them in this
    # order, so a message (which locks its case row up front) and a status change never wait on each other.
    db.session.flush()
    _lock_chain()
    latest = audit_chain.newest()
    if latest is not None and _stale(latest, action):
        # A process still running with the pepper `speakup rotate-pepper` replaced (a timer started with the old
        # environment file) would chain rows under it after the rotation's, and break the chain for good: refused.
        logger.error(STALE_CHAIN_ERROR)
        raise ChainNotCurrent(STALE_CHAIN_ERROR)
    prev_hash = latest.hash if latest is not None else GENESIS_HASH
    # A reporter's actions to the minute, like everything else kept of them (platform/models/base.py).
    created_at = clock.minute_now() if actor_type == Actor.REPORTER else clock.utcnow()
    event = AuditEvent(
        created_at=created_at,
        action=action,
        actor_type=actor_type,
        actor_id=actor_id,
        case_id=case_id,
        detail=detail_text,
        prev_hash=prev_hash,
        hash=row_hash(prev_hash, created_at, action, actor_type, actor_id, case_id, detail_text),
    )
    db.session.add(event)
    # Flushed now, so the next record() in this transaction chains onto this row, whatever the autoflush setting.
    db.session.flush()
    return event


def _stale(latest: object, action: str) -> bool:
    """Whether this process holds a pepper older than the chain's: its newest row is a rotation to a pepper that is
    not the current one here (one HMAC, only when the newest row is a rotation). The rotation's own row is exempt:
    it is written with the new pepper in force, after a row under the old one."""
    if action == Action.PEPPER_ROTATED or getattr(latest, "action", None) != Action.PEPPER_ROTATED:
        return False
    return not audit_chain.under_current_pepper(latest)


def _check_event(
    action: str, actor_type: str, actor_id: int | None, case_id: int | None, detail: dict[str, object]
) -> str:
    """The event's detail as stored; ``ValueError`` for anything an event may not hold."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if actor_type not in ACTOR_TYPES:
        raise ValueError(f"unknown audit actor type {actor_type!r}")
    if actor_type == "reporter" and actor_id is not None:
        raise ValueError("a reporter is never recorded with an id")
    for name, value in (("actor_id", actor_id), ("case_id", case_id)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise ValueError(f"{name} must be an int or None")
    return _detail_text(actor_type, detail)


def _detail_text(actor_type: str, detail: dict[str, object]) -> str:
    for key, value in detail.items():
        if key not in DETAIL_KEYS:
            raise ValueError(f"audit detail key {key!r} is not allowed")
        if value is not None and not isinstance(value, str | int | bool):
            raise ValueError(f"audit detail {key!r} must be a str, int, bool or None, not {type(value).__name__}")
        if isinstance(value, str):
            if len(value) > MAX_DETAIL_VALUE_CHARS or not value.isprintable():
                raise ValueError(f"audit detail {key!r} must be a short single-line value")
            if _looks_like_access_code(value):
                raise ValueError(f"audit detail {key!r} looks like an access code")
    if actor_type == Actor.REPORTER and "email" in detail:
        raise ValueError("a reporter's email is never recorded")
    detail_text = json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if len(detail_text) > MAX_DETAIL_CHARS:
        raise ValueError("audit detail is too long")
    return detail_text


def _looks_like_access_code(value: str) -> bool:
    try:
        access_codes.normalise_access_code(value)
    except access_codes.InvalidAccessCode:
        return False
    return True


def _lock_chain() -> None:
    dialect = db.session.get_bind(mapper=AuditEvent.__mapper__).dialect.name
    if dialect == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    elif dialect == "sqlite":
        # A write that changes nothing takes SQLite's write lock now, before the latest row is read; without it two
        # connections could both read the same latest row and then write one after the other (a fork).
        db.session.execute(text("UPDATE audit_events SET id = id WHERE 0 = 1"))


def case_trail(case_id: int) -> list[AuditEvent]:
    """A case's audit events, oldest first, for the guardian case page."""
    statement = select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.id)
    return list(db.session.scalars(statement))


def detail_of(event: AuditEvent) -> dict[str, object]:
    """An event's detail as a dict, for display."""
    return json.loads(event.detail or "{}")
