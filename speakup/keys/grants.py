"""Case keys wrapped for guardians (grants), sharing, and opening a case."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

from sqlalchemy import Table, insert, select

from speakup.crypto import access_codes, kem, labels, password_keys, sealing
from speakup.keys import roster
from speakup.keys.account_keys import _DECOY_SALT, _DECOY_WRAPPED
from speakup.keys.exclusions import ExcludedGuardian, ExclusionsMissing, excluded_ids
from speakup.ops import audit
from speakup.platform import clock
from speakup.platform.models import (
    AuditEvent,
    Case,
    CaseGrant,
    GrantRecipient,
    db,
)

logger = logging.getLogger(__name__)


class AccessCodeNotFound(Exception):
    """No concern opens with this access code (wrong, malformed or unknown: all the same)."""


class AccessCodesUnverifiable(Exception):
    """The roster log has an alarm, so whether a code was replaced cannot be known: no code is taken meanwhile."""


class NoGrant(Exception):
    """This guardian holds no key for the case."""


def _grant_values(
    case_id: int, recipient: GrantRecipient, wrapped_key: bytes, user_id: int | None = None, salt: bytes | None = None
) -> dict[str, object]:
    return {
        "case_id": case_id,
        "recipient": recipient,
        "user_id": user_id,
        "wrapped_key": wrapped_key,
        "salt": salt,
        "protocol": sealing.PROTOCOL,
        "created_at": clock.minute_now(),  # often the moment a concern was raised: to the minute
    }


def _guardian_grant(case_id: int, case_key: bytes, user_id: int, public_key: bytes) -> dict[str, object]:
    return _grant_values(case_id, GrantRecipient.GUARDIAN, kem.wrap_case_key(case_key, public_key, case_id), user_id)


class Recipient(Protocol):
    """A guardian a case key may be wrapped for: a verified roster member (speakup/keys/roster.py), never a bare
    account row, so the public key used is the one the roster's signatures approved."""

    @property
    def id(self) -> int: ...
    @property
    def public_key(self) -> bytes: ...


def grant_case_key(case: Case, case_key: bytes, recipient: Recipient) -> CaseGrant:
    grant = CaseGrant(**_guardian_grant(case.id, case_key, recipient.id, recipient.public_key))
    db.session.add(grant)
    return grant


def wrap_new_case_key(
    case_id: int, case_key: bytes, guardians: Sequence[Recipient], recovery_key: bytes, normalised_code: str
) -> list[dict[str, object]]:
    """A new case's grant rows: its key wrapped for each guardian, the recovery key and the reporter's access
    code. Touches no database, so it can run before the transaction that stores them (``store_grants``)."""
    rows = [_guardian_grant(case_id, case_key, guardian.id, guardian.public_key) for guardian in guardians]
    rows.append(_grant_values(case_id, GrantRecipient.RECOVERY, kem.wrap_case_key(case_key, recovery_key, case_id)))
    salt = password_keys.new_salt()
    code_key = access_codes.access_code_key(normalised_code, salt, case_id)
    sealed = sealing.seal(code_key, case_key, labels.reporter_grant(case_id))
    rows.append(_grant_values(case_id, GrantRecipient.REPORTER, sealed, salt=salt))
    return rows


def rewrap_for_new_access_code(case: Case, case_key: bytes, normalised_code: str, pepper: bytes) -> None:
    """The case key wrapped under a new access code in place of the old one, and the case found by the new code's
    lookup id: the old code opens nothing from now on. The caller commits."""
    salt = password_keys.new_salt()
    code_key = access_codes.access_code_key(normalised_code, salt, case.id)
    sealed = sealing.seal(code_key, case_key, labels.reporter_grant(case.id))
    grant = db.session.scalar(
        select(CaseGrant).where(CaseGrant.case_id == case.id, CaseGrant.recipient == GrantRecipient.REPORTER)
    )
    if grant is None:
        db.session.add(CaseGrant(**_grant_values(case.id, GrantRecipient.REPORTER, sealed, salt=salt)))
    else:
        grant.wrapped_key, grant.salt = sealed, salt
    case.access_lookup_id = access_codes.access_code_lookup_id(pepper, normalised_code)


def store_grants(rows: list[dict[str, object]]) -> None:
    """Every grant row has the same keys, so they go in as one INSERT statement given all the rows at once. Not the
    ORM's bulk insert: it splits the rows by which values are None (a guardian's user id, the reporter's salt), which
    made three statements of one raise. Nor a literal multi-row VALUES list: SQLAlchemy compiles that afresh for
    every raise (1.5 ms, inside SQLite's write lock); one prepared statement with the rows is compiled once."""
    db.session.execute(insert(cast(Table, CaseGrant.__table__)), rows)  # a mapped class's table is a Table


def guardian_case_key(case: Case, user_id: int, private_key: bytes) -> bytes:
    grant = db.session.scalar(
        select(CaseGrant).where(
            CaseGrant.case_id == case.id, CaseGrant.recipient == GrantRecipient.GUARDIAN, CaseGrant.user_id == user_id
        )
    )
    if grant is None:
        raise NoGrant()
    try:
        return kem.unwrap_case_key(grant.wrapped_key, private_key, case.id)
    except sealing.DecryptionError as exc:
        raise NoGrant() from exc


def holds_grant(case_id: int, user_id: int) -> bool:
    return (
        db.session.scalar(
            select(CaseGrant.id).where(
                CaseGrant.case_id == case_id,
                CaseGrant.recipient == GrantRecipient.GUARDIAN,
                CaseGrant.user_id == user_id,
            )
        )
        is not None
    )


def share_case(case: Case, case_key: bytes, to: Recipient, override_exclusion: bool = False) -> bool:
    """Wraps an opened case key for another guardian on the roster. Returns False when they already hold it.

    ``ExclusionsMissing`` when the case's list of excluded guardians is gone: nobody can tell, so nobody gets it.
    A guardian the reporter excluded gets nothing unless ``override_exclusion``, which only a second guardian's
    confirmation of a share request gives (speakup/domain/sharing.py); the caller audits it.
    """
    if to.id in excluded_ids(case, case_key) and not override_exclusion:
        raise ExcludedGuardian()
    if holds_grant(case.id, to.id):
        return False
    grant_case_key(case, case_key, to)
    return True


@dataclass(frozen=True)
class ShareResult:
    shared: int
    already_held: int
    excluded: int
    unknown: int = 0  # cases whose list of excluded guardians is missing: shared with nobody


def share_cases(case_ids: list[int], unwrap: Callable[[Case], bytes], to_user: Recipient) -> ShareResult:
    """Shares many cases (all a guardian holds, or all the recovery key holds), never an excluded one."""
    shared = held = excluded = unknown = 0
    held_ids = set(
        db.session.scalars(
            select(CaseGrant.case_id).where(
                CaseGrant.recipient == GrantRecipient.GUARDIAN, CaseGrant.user_id == to_user.id
            )
        )
    )
    for case_id in case_ids:
        case = db.session.get_one(Case, case_id)
        case_key = unwrap(case)  # the exclusions are sealed: opening the case key comes first
        try:
            is_excluded = to_user.id in excluded_ids(case, case_key)
        except ExclusionsMissing:
            unknown += 1
            continue
        if is_excluded:
            excluded += 1
        elif case_id in held_ids:
            held += 1
        else:
            grant_case_key(case, case_key, to_user)
            shared += 1
    return ShareResult(shared, held, excluded, unknown)


def guardian_case_ids(user_id: int) -> list[int]:
    return list(
        db.session.scalars(
            select(CaseGrant.case_id)
            .where(CaseGrant.recipient == GrantRecipient.GUARDIAN, CaseGrant.user_id == user_id)
            .order_by(CaseGrant.case_id)
        )
    )


def open_with_access_code(code: str, peppers: Sequence[bytes] | bytes, just_raised: bool = False) -> tuple[Case, bytes]:
    """Finds and opens a case from its access code, with the same work whether or not it exists. ``peppers``: the
    configured peppers, current first (a code given before a rotation is found by its lookup id under the old one).
    ``just_raised``: the code was made in this request, so no other can have replaced it (a file added to a concern
    being raised)."""
    peppers = _peppers(peppers)
    try:
        normalised = access_codes.normalise_access_code(code)
    except access_codes.InvalidAccessCode:
        normalised = None
    lookups = [access_codes.access_code_lookup_id(pepper, normalised or code[:64]) for pepper in peppers]
    # Indexed queries, the same found or not, so the answer takes the same time either way.
    row = db.session.execute(
        select(Case, CaseGrant)
        .join(CaseGrant, (CaseGrant.case_id == Case.id) & (CaseGrant.recipient == GrantRecipient.REPORTER))
        .where(Case.access_lookup_id.in_(lookups))
    ).first()
    case, grant = (row[0], row[1]) if row is not None and normalised is not None else (None, None)
    case_id = case.id if case is not None else 0
    # The codes the anchored roster log names, from this process's cached verification: the same read found or not;
    # the generations of the lookup found (or, not found, of the first), under every pepper: the same work too.
    codes = roster.current_roster().codes
    these = code_generations(case.access_lookup_id if case is not None else lookups[0], peppers)
    salt = grant.salt if grant is not None and grant.salt else _DECOY_SALT
    wrapped = grant.wrapped_key if grant is not None else _DECOY_WRAPPED
    code_key = access_codes.access_code_key(normalised or "", salt, case_id)
    try:
        case_key = sealing.open_sealed(code_key, wrapped, labels.reporter_grant(case_id))
    except sealing.DecryptionError as exc:
        raise AccessCodeNotFound() from exc
    if case is None or grant is None:
        raise AccessCodeNotFound()
    if just_raised:
        return case, case_key
    if codes is None:
        # A roster alarm: the log that names replaced codes cannot be trusted, so no code is (keys/roster_log.py).
        raise AccessCodesUnverifiable()
    named = codes.get(case.id)
    if named is not None and not names_one_of(named, these):
        # The grant opened, but a later code was given: its grant and lookup id were put back in the database.
        logger.error("Database tampering: case %s's replaced access code was put back; it opens nothing", case.id)
        raise AccessCodeNotFound()
    return case, case_key


def _peppers(peppers: Sequence[bytes] | bytes) -> tuple[bytes, ...]:
    return (peppers,) if isinstance(peppers, bytes) else tuple(peppers)


def code_generation_of(case: Case, pepper: bytes) -> str:
    """How a case's current access code is named where a code is recorded (the roster log, the audit trail): under
    the current pepper, always, when written."""
    return access_codes.code_generation(pepper, case.access_lookup_id)


def code_generations(lookup_id: str, peppers: Sequence[bytes] | bytes) -> tuple[str, ...]:
    """The names a lookup id's code may go by, one under each configured pepper. A name recorded before a rotation
    (the roster log, a reporter's session) still matches the case's current lookup id; a name of any other lookup
    id never does, whatever the pepper (HMAC-SHA256 of a different input)."""
    return tuple(access_codes.code_generation(pepper, lookup_id) for pepper in _peppers(peppers))


def names_one_of(named: str, generations: Sequence[str]) -> bool:
    """Whether ``named`` is one of ``generations``, each compared in constant time, all of them compared."""
    matches = [hmac.compare_digest(named, generation) for generation in generations]
    return any(matches)


def codes_given_since(named: dict[int, str]) -> dict[int, str]:
    """The codes a new checkpoint must carry forward after an alarm: those the log named as far as it verified
    (``named``), and for each case the newest the audit trail recorded since (an entry after the alarm's point may
    be the very one removed), from events whose own hash holds."""
    codes = dict(named)
    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == audit.Action.ACCESS_CODE_REPLACED)
        .order_by(AuditEvent.created_at, AuditEvent.id)
    )
    for event in events:
        code = audit.detail_of(event).get("code_generation")
        if event.case_id is not None and isinstance(code, str) and audit.is_genuine(event):
            codes[event.case_id] = code
    return codes
