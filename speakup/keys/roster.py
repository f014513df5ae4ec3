"""Who is a guardian: the signed roster (DESIGN.md, "Who is a guardian").

The server wraps every new case key for each guardian it believes in, so belief must not rest on anything an
administrator or a database writer can change. A guardian is on the roster only while their account names an
endorsement of their *current* keys whose signatures verify, link by link, up to the organisation signing key, and
that key's fingerprint is the one pinned outside the database in ``SPEAKUP_ROSTER_ROOT``. An endorsement is
made by an approved guardian who typed the new guardian's safety code, or by the offline organisation key.

Raising a concern, sharing, share-all and recovery wrap only for ``current_roster()``. It is cached per process
under a digest of every row it rests on (the guardian accounts' keys and claims, the organisation's public keys,
the pinned root), so the steady state pays one small query and no signature checks, and any change to those rows,
by the service or by someone writing to the database directly, is verified again before the next wrap.

Transactions: the roster's only write is a roster alarm (an audit event) when a claimed approval fails to verify;
``current_roster()`` commits it at once, so call it before the caller's own changes begin. Approving a guardian
is committed by the caller, like every other account change.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import Row, select

from speakup.crypto import sealing, signing
from speakup.ops import audit
from speakup.platform.models import Endorsement, OrganisationKey, User, db

logger = logging.getLogger(__name__)

STATEMENT_CONTEXT = "guardian-endorsement"

ORGANISATION = "organisation"


@dataclass(frozen=True)
class RosterMember:
    """A guardian whose endorsement chain verified. The keys here are the verified ones: wrap for these."""

    id: int
    email: str
    name: str
    public_key: bytes
    # The signing key the endorsement certified, or None for an approval carried over from before signed
    # rosters: such a guardian receives concerns but cannot approve others until approved again.
    signing_public_key: bytes | None
    endorsement_id: int
    is_active: bool = True  # only active guardians are members; notify reads this of any recipient


@dataclass(frozen=True)
class RosterFailure:
    user_id: int
    email: str
    reason: str


@dataclass(frozen=True)
class Roster:
    members: dict[int, RosterMember]
    failures: tuple[RosterFailure, ...]
    recovery_key: bytes | None
    root_problem: str | None = None
    digest: str = field(default="", compare=False)

    def member(self, user_id: int) -> RosterMember | None:
        return self.members.get(user_id)

    def guardians(self, exclude_ids: tuple[int, ...] = ()) -> list[RosterMember]:
        return [member for member_id, member in self.members.items() if member_id not in exclude_ids]


def _b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode("ascii") if data is not None else None


def _subject(user: User | Row) -> dict[str, object]:
    return {
        "user_id": user.id,
        "email": user.email.strip().lower(),
        "role": user.role,
        "hpke_public": _b64(user.public_key),
        "signing_public": _b64(user.signing_public_key),
    }


def _root_key(organisation_keys: dict[str, bytes]) -> tuple[bytes | None, str | None]:
    stored = organisation_keys.get("roster")
    if stored is None:
        return None, "there is no organisation signing key (run `speakup roster upgrade`)"
    pinned = current_app.config.get("ROSTER_ROOT")
    if not pinned:
        if current_app.config["ENVIRONMENT"] == "production":
            return None, "SPEAKUP_ROSTER_ROOT is not set"
        return stored, None  # development and tests without a pin trust the stored key
    if signing.normalise_fingerprint(str(pinned)) != signing.normalise_fingerprint(signing.roster_fingerprint(stored)):
        return None, "the organisation signing key does not match SPEAKUP_ROSTER_ROOT"
    return stored, None


class _ChainChecker:
    """Verifies endorsements top-down from the organisation key, each link once per pass."""

    def __init__(self, rows: dict[int, Endorsement], root: bytes):
        self.rows = rows
        self.root = root
        self.verified: dict[int, dict | str] = {}  # endorsement id -> statement, or why it failed

    def check(self, endorsement_id: int) -> dict | str:
        chain: list[Endorsement] = []
        current = self.rows.get(endorsement_id)
        while current is not None and current.id not in self.verified:
            if current in chain:
                return "its endorsements form a loop"
            chain.append(current)
            statement = _parse(current.statement)
            if statement is None or statement.get("endorser") == ORGANISATION:
                break
            current = self.rows.get(current.parent_id) if current.parent_id is not None else None
            if current is None:
                return "the approver's own endorsement is missing"
        if not chain and endorsement_id not in self.verified:
            return "its endorsement is missing"
        for row in reversed(chain):
            self.verified[row.id] = self._check_link(row)
        return self.verified[endorsement_id]

    def _check_link(self, row: Endorsement) -> dict | str:
        statement = _parse(row.statement)
        if (
            statement is None
            or statement.get("protocol") != sealing.PROTOCOL
            or statement.get("user_id") != row.user_id
        ):
            return "its endorsement is not a valid statement"
        if statement.get("role") != "guardian":
            return "its endorsement is not for a guardian"
        if statement.get("endorser") == ORGANISATION:
            key = self.root
        else:
            parent = self.verified.get(row.parent_id) if row.parent_id is not None else None
            if not isinstance(parent, dict):
                return "the approver's own approval does not verify"
            if parent.get("user_id") != statement.get("endorser") or not parent.get("signing_public"):
                return "the approver's key was never certified"
            key = base64.b64decode(parent["signing_public"])
        if statement.get("endorser_key") != signing.roster_fingerprint(key):
            return "its endorsement names another signing key"
        if not signing.verify_signature(key, STATEMENT_CONTEXT, row.statement, row.signature):
            return "its endorsement's signature does not verify"
        return statement


def _parse(statement: bytes) -> dict | None:
    try:
        parsed = json.loads(statement)
    except (ValueError, UnicodeDecodeError):
        return None
    return parsed if isinstance(parsed, dict) else None


_CLAIM_COLUMNS = (
    User.id,
    User.email,
    User.name,
    User.role,
    User.is_active,
    User.public_key,
    User.signing_public_key,
    User.endorsement_id,
)


def _claimants() -> list:
    """Guardians who claim an approval: the columns the roster rests on only (rows, not loaded accounts), as this
    query runs for every new concern."""
    query = select(*_CLAIM_COLUMNS).where(User.role == "guardian", User.endorsement_id.is_not(None))
    return list(db.session.execute(query.order_by(User.name, User.id)))


def _organisation_keys() -> dict[str, bytes]:
    return {
        row.purpose: row.public_key
        for row in db.session.execute(select(OrganisationKey.purpose, OrganisationKey.public_key))
    }


def _digest(claimants: list, organisation_keys: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    pinned = str(current_app.config.get("ROSTER_ROOT") or "")
    digest.update(f"{pinned}|{current_app.config['ENVIRONMENT']}|".encode())
    for purpose in sorted(organisation_keys):
        digest.update(purpose.encode() + b"|" + organisation_keys[purpose] + b"|")
    for user in claimants:
        fields = (user.id, user.email, user.name, user.role, user.is_active, user.endorsement_id)
        digest.update(repr(fields).encode() + (user.public_key or b"-") + b"|" + (user.signing_public_key or b"-"))
    return digest.hexdigest()


def _verify(claimants: list, organisation_keys: dict[str, bytes], digest: str) -> Roster:
    root, root_problem = _root_key(organisation_keys)
    members: dict[int, RosterMember] = {}
    failures: list[RosterFailure] = []
    checker = _ChainChecker({row.id: row for row in db.session.scalars(select(Endorsement))}, root) if root else None
    for user in claimants:
        if not user.is_active:
            continue
        reason = root_problem or _check_claim(user, checker)
        if isinstance(reason, str):
            failures.append(RosterFailure(user.id, user.email, reason))
            continue
        signing = reason.get("signing_public")
        members[user.id] = RosterMember(
            user.id,
            user.email,
            user.name,
            user.public_key,
            base64.b64decode(signing) if signing else None,
            user.endorsement_id,
        )
    return Roster(members, tuple(failures), organisation_keys.get("recovery"), root_problem, digest)


def _check_claim(user: User | Row, checker: _ChainChecker | None) -> dict | str:
    if user.public_key is None:
        return "the account has no keys"
    result = checker.check(user.endorsement_id) if checker else "no organisation key"
    if isinstance(result, str):
        return result
    subject = _subject(user)
    certified = {key: result.get(key) for key in subject}
    if certified["signing_public"] is None:
        subject["signing_public"] = None  # an approval from before signed rosters certifies the HPKE key only
    if certified != subject:
        return "its keys or details are not the ones its endorsement approved"
    return result


_cache_lock = threading.Lock()


def current_roster() -> Roster:
    """The verified roster, from this process's cache while nothing it rests on has changed."""
    claimants = _claimants()
    organisation_keys = _organisation_keys()
    digest = _digest(claimants, organisation_keys)
    cache = current_app.extensions.setdefault("speakup_roster", {})
    cached = cache.get("roster")
    if cached is not None and cached.digest == digest:
        return cached
    with _cache_lock:
        roster = _verify(claimants, organisation_keys, digest)
        _raise_alarms(roster, cache.setdefault("alarmed", set()))
        cache["roster"] = roster
    return roster


def verify_roster() -> Roster:
    """Verifies every claimed approval now, whatever the cache holds (for `speakup roster verify`)."""
    claimants = _claimants()
    organisation_keys = _organisation_keys()
    roster = _verify(claimants, organisation_keys, _digest(claimants, organisation_keys))
    _raise_alarms(roster, set())
    return roster


def _raise_alarms(roster: Roster, already: set[tuple[int, str]]) -> None:
    new = [failure for failure in roster.failures if (failure.user_id, failure.reason) not in already]
    for failure in new:
        # The account id and the reason only: no name or email in the log.
        logger.warning("Roster alarm: guardian account %s left out: %s", failure.user_id, failure.reason)
        audit.record(audit.ROSTER_ALARM, "system", guardian_id=failure.user_id, reason=failure.reason)
        already.add((failure.user_id, failure.reason))
    if new:
        db.session.commit()


def safety_code_of(user: User) -> str | None:
    if user.public_key is None or user.signing_public_key is None:
        return None
    return signing.safety_code(user.public_key, user.signing_public_key)


def state_of(user: User, roster: Roster) -> str:
    """What the Team and accounts pages show: disabled, pending (not set up, or waiting for approval), approved."""
    if not user.is_active:
        return "disabled"
    if user.role != "guardian":
        return "active" if user.is_enrolled else "pending"
    return "approved" if roster.member(user.id) is not None else "pending"
