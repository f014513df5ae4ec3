"""The roster as a signed, hash-chained log (docs/protocol.md, "The signed roster log", has its formats).

Every change to who may receive case keys is a statement appended to one log. Each statement names its place
(``seq``) and the hash of the entry before it, so an entry edited, removed or put back in another order breaks the
chain; every instance anchors the log's head outside the database (keys/anchor.py): a log cut back is seen too.

Kinds of statement:

- ``checkpoint``, signed by the offline organisation key: the organisation's public keys (the roster root and the
  recovery key) and the guardians it vouches for. The first entry is one (`speakup init`, `speakup roster
  upgrade`); `speakup roster accept` writes another after an alarm or a restore. The replay starts from the newest
  checkpoint whose signature verifies: the organisation has vouched for everything before it.
- ``approve``, signed by an approved guardian or the organisation key: one approval of a guardian's exact keys,
  email and role. A guardian joins when enough approvals of the same keys are in (``approvals_needed``); the
  organisation key's one is always enough.
- ``disable``, ``reset``, ``remove``, ``keys_mismatch``: take a guardian off and forget approvals waiting for them.
  Unsigned: taking a reader away needs nobody's authority, so anyone who can append may do it.
- ``added``, ``enabled``: an account made, or enabled again (which makes a guardian pending, never a reader).
  Unsigned and without effect on who reads; the notice every guardian sees is drawn from these and the above.
- ``code_given``, signed by the approved guardian who gave it: a case's reporter was given a new access code (it
  names the code by a keyed hash, never the code). The log is anchored outside the database, so a replaced code
  cannot be made to work again by putting back its grant, nor by removing this entry (an alarm): keys/grants.py
  checks a code against the newest one the log names for its case. A checkpoint carries them forward.
- ``link_issued``, ``link_used``, ``token_revoked``: an enrolment link made for an account (named by its keyed hash,
  with the account's id, address and role, and a proof under the pepper over the whole statement, its place and time
  included, which a database writer cannot make), that link used, a statistics token revoked (by its keyed hash).
  Unsigned and adding no reader; keys/spent.py replays them. A link opens, and a token is taken, only as the
  verified log says (domain/enrolment.py, reporting/stats_tokens.py): the rows' own columns and the audit trail's
  tail can be cleared, edited or put back, the anchored log not. A checkpoint carries the revoked tokens forward.
- ``handover``, signed by the root in force (the organisation key): names the public key of a new organisation key,
  which is the root in force from then on (`speakup rotate-organisation-key`, which then has the new key sign a
  checkpoint). A server still pinned to the old root follows it; one pinned to the new root starts at that checkpoint.

``roster_replay.replay`` reads it (pure: rows and the root in, the state out); ``append`` and ``entries`` here are
its database side.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

from sqlalchemy import Row, event, select
from sqlalchemy.orm import Session

from speakup.crypto import sealing, signing
from speakup.platform import clock, transactions
from speakup.platform.models import RosterEntry, User, db

CONTEXT = "roster-log"
ORGANISATION = "organisation"

CHECKPOINT = "checkpoint"
APPROVE = "approve"
DISABLE = "disable"
RESET = "reset"
REMOVE = "remove"
KEYS_MISMATCH = "keys_mismatch"
ADDED = "added"
ENABLED = "enabled"
CODE_GIVEN = "code_given"
HANDOVER = "handover"
LINK_ISSUED = "link_issued"
LINK_USED = "link_used"
TOKEN_REVOKED = "token_revoked"  # noqa: S105 - a kind of statement, not a token

REMOVING = frozenset({DISABLE, RESET, REMOVE, KEYS_MISMATCH})
INFORMING = frozenset({ADDED, ENABLED})
RECORDING = frozenset({LINK_ISSUED, LINK_USED, TOKEN_REVOKED})
# What append() writes into every statement itself: a body never sets these.
ENVELOPE = frozenset({"protocol", "context", "seq", "prev", "kind", "user_id", "at", "signer", "signer_key"})
LINK_PROOF = "roster-link"  # the keyed hash's purpose: a link_issued statement's proof under the pepper


class Entry(Protocol):
    seq: int
    kind: str
    user_id: int | None
    statement: bytes
    signature: bytes | None


def b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode("ascii") if data is not None else None


def unb64(text: object) -> bytes | None:
    if not isinstance(text, str):
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def subject_of(user: User | Row[*tuple[Any, ...]]) -> dict[str, object]:
    """What an approval certifies of a guardian: their account, address, role and both public keys."""
    return {
        "user_id": user.id,
        "email": user.email.strip().lower(),
        "role": user.role,
        "hpke_public": b64(user.public_key),
        "signing_public": b64(user.signing_public_key),
    }


def entry_hash(entry: Entry) -> str:
    """The hash the next entry names. Computed from the statement and signature, never read from a column."""
    digest = hashlib.sha256(f"{sealing.PROTOCOL}|{CONTEXT}|".encode())
    digest.update(len(entry.statement).to_bytes(8, "big") + entry.statement)
    digest.update(entry.signature or b"")
    return digest.hexdigest()


def timestamp(at: datetime) -> str:
    """Microseconds, so a checkpoint and an anchor written in the same second still compare in order."""
    return at.isoformat(timespec="microseconds") + "Z"


def recorded_at(entry: Entry) -> datetime | None:
    """When the statement says it was made (UTC, naive like every stored time), or None if it cannot be read."""
    statement = parse_statement(entry.statement)
    return parse_at(statement.get("at")) if statement else None


def parse_at(text: object) -> datetime | None:
    """A statement's time (UTC, naive like every stored time), or None if it is not one."""
    try:
        at = datetime.fromisoformat(text.removesuffix("Z")) if isinstance(text, str) else None
    except ValueError:
        return None
    if at is not None and at.tzinfo is not None:  # the service writes naive UTC; anything else is converted
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at


def approvals_needed(required: int, others: int) -> int:
    """``required`` approvals (ROSTER_APPROVALS_REQUIRED) once at least that many other guardians are approved;
    while the roster is smaller, one, or nobody could ever be added."""
    return max(1, min(required, others))


def parse_statement(statement: bytes) -> dict[str, Any] | None:
    """A log entry's statement as a dict, or None when it is not one of this protocol's."""
    try:
        parsed = json.loads(statement)
    except (ValueError, UnicodeDecodeError, TypeError, RecursionError):
        return None
    if not isinstance(parsed, dict) or parsed.get("protocol") != sealing.PROTOCOL or parsed.get("context") != CONTEXT:
        return None
    return parsed


def canonical(statement: Mapping[str, object]) -> str:
    return json.dumps(statement, sort_keys=True, separators=(",", ":"))


# --- The database side -----------------------------------------------------------------------------------------


_ENTRY_COLUMNS = (RosterEntry.seq, RosterEntry.kind, RosterEntry.user_id, RosterEntry.statement, RosterEntry.signature)


def entries() -> list[Entry]:
    """The log's rows, the columns the replay reads only (not created_at, a copy a database writer could make
    unreadable)."""
    return list(db.session.execute(select(*_ENTRY_COLUMNS).order_by(RosterEntry.seq)))


def latest(kinds: tuple[str, ...], limit: int) -> list[Entry]:
    """The newest entries of these kinds, newest first."""
    query = select(*_ENTRY_COLUMNS).where(RosterEntry.kind.in_(kinds)).order_by(RosterEntry.seq.desc()).limit(limit)
    return list(db.session.execute(query))


def head() -> Entry | None:
    return db.session.execute(select(*_ENTRY_COLUMNS).order_by(RosterEntry.seq.desc()).limit(1)).first()


def at(seq: int) -> Entry | None:
    return db.session.execute(select(*_ENTRY_COLUMNS).where(RosterEntry.seq == seq)).first()


# The places and hashes this transaction's appends computed, in order (outside review r5, F1). A database can be
# made to drop an insert without an error (a trigger returning NULL, a rule): what the service reads back after its
# commit is then a valid log without the entry, so it is what the service wrote that is anchored, and checked.
_WRITTEN = "speakup_roster_written"


def _place(last: Entry | None) -> tuple[int, str]:
    """Where the next entry goes: after the log's head, or after the entry this transaction wrote last, which the
    database may not show (dropped): the next entry still chains on it, so the gap breaks the chain."""
    place = (last.seq, entry_hash(last)) if last is not None else (0, "")
    written: list[tuple[int, str]] | None = db.session().info.get(_WRITTEN)
    if written and written[-1][0] >= place[0]:
        place = written[-1]
    return place


class Written(list[tuple[int, str]]):
    """The places and hashes one transaction appended, in order; ``ceremony``: among them a checkpoint or a
    hand-over, which change what the anchor holds besides the head (the organisation's keys), so only a verification
    may anchor them."""

    ceremony = False


# What runs once a transaction that appended is committed, with its places and hashes: keys/written.py's anchoring
# (registered when it is imported, by create_app; the roster it verifies imports this module, so not the reverse).
_WHEN_WRITTEN: list[Callable[[Written], object]] = []


def when_written(hook: Callable[[Written], object]) -> None:
    _WHEN_WRITTEN.append(hook)


def _remember(seq: int, hashed: str, kind: str) -> None:
    if not _WHEN_WRITTEN:  # never an append nobody will check
        raise RuntimeError("speakup.keys.written is not loaded: the roster log's appends would not be anchored")
    info = db.session().info
    written = info.get(_WRITTEN)
    if written is None:
        written = info[_WRITTEN] = Written()
        for hook in _WHEN_WRITTEN:
            transactions.after_commit(partial(hook, written))
    written.append((seq, hashed))
    written.ceremony = written.ceremony or kind in (CHECKPOINT, HANDOVER)


@event.listens_for(Session, "after_commit")
def _forget_written(session: Session) -> None:
    session.info.pop(_WRITTEN, None)  # the anchoring after the commit holds its own list


@event.listens_for(Session, "after_soft_rollback")
def _drop_written(session: Session, _previous: object) -> None:
    if not session.in_transaction():
        session.info.pop(_WRITTEN, None)


def append(
    kind: str,
    user_id: int | None = None,
    body: Mapping[str, object] | None = None,
    signer: int | str | None = None,
    signing_key: bytes | None = None,
    proof_pepper: bytes | None = None,
) -> RosterEntry:
    """Adds one statement after the head, signed when ``signing_key`` is given, proven under ``proof_pepper`` when
    that is (a ``proof`` field: the keyed hash of the statement without it). The caller commits; two appends racing
    for the same place are refused by the primary key, and the later one changes nothing. Once the commit is done,
    the head computed here is anchored and the log must reach it (roster.anchor_written)."""
    place = _place(head())
    now = clock.utcnow()
    seq = place[0] + 1
    statement: dict[str, object] = {
        "protocol": sealing.PROTOCOL,
        "context": CONTEXT,
        "seq": seq,
        "prev": place[1],
        "kind": kind,
        "user_id": user_id,
        "at": timestamp(now),
        **(body or {}),
    }
    if signing_key is not None:
        statement["signer"] = signer
        statement["signer_key"] = signing.roster_fingerprint(signing.signing_public_key_of(signing_key))
    if proof_pepper is not None:
        statement["proof"] = sealing.keyed_hash(proof_pepper, canonical(statement), LINK_PROOF)
    encoded = canonical(statement).encode()
    signature = signing.sign(signing_key, CONTEXT, encoded) if signing_key is not None else None
    row = RosterEntry(seq=seq, kind=kind, user_id=user_id, statement=encoded, signature=signature, created_at=now)
    db.session.add(row)
    db.session.flush()
    _remember(seq, entry_hash(row), kind)
    return row


def checkpoint(
    organisation_signing_key: bytes,
    recovery_public: bytes,
    members: list[dict[str, Any]],
    codes: Mapping[int, str] | None = None,
    carried: Mapping[str, object] | None = None,
) -> RosterEntry:
    """The organisation key vouches for the roster as it stands: the first entry, or after an alarm or restore. It
    carries forward the access codes the log named (``codes``: case id to the code's keyed hash), and the links and
    tokens it named (``carried``: keys/spent.py, Spent.carried)."""
    body = {
        **(carried or {}),
        "root_public": b64(signing.signing_public_key_of(organisation_signing_key)),
        "recovery_public": b64(recovery_public),
        "members": sorted(members, key=lambda member: member["user_id"]),
        "codes": {str(case_id): code for case_id, code in sorted((codes or {}).items())},
    }
    return append(CHECKPOINT, None, body, ORGANISATION, organisation_signing_key)


def code_given(case_id: int, code: str, guardian_id: int, signing_key: bytes) -> RosterEntry:
    """A guardian gave a case's reporter a new access code, named by ``code`` (keys/grants.py, code_generation_of)."""
    return append(CODE_GIVEN, None, {"case_id": case_id, "code": code}, guardian_id, signing_key)


def account_of(user: User) -> dict[str, object]:
    """What a link_issued entry names of the account a link is for: a link opens only for that very account."""
    return {"user_id": user.id, "email": user.email.strip().lower(), "role": user.role}


def link_issued(user: User, token_hash: str, pepper: bytes) -> RosterEntry:
    """An enrolment link made for ``user``, named by its keyed hash; proven under ``pepper`` (the current one)."""
    return append(LINK_ISSUED, user.id, {"link": token_hash, "account": account_of(user)}, proof_pepper=pepper)


def link_used(user_id: int, token_hash: str) -> RosterEntry:
    return append(LINK_USED, user_id, {"link": token_hash})


def token_revoked(token_hash: str) -> RosterEntry:
    return append(TOKEN_REVOKED, None, {"token": token_hash})


def handover(old_signing_key: bytes, new_root_public: bytes) -> RosterEntry:
    """The organisation key in force hands the roster's root over to a new key (``new_root_public``)."""
    return append(HANDOVER, None, {"new_root_public": b64(new_root_public)}, ORGANISATION, old_signing_key)


def approve(user: User, signer: int | str, signing_key: bytes) -> RosterEntry:
    return append(APPROVE, user.id, {"subject": subject_of(user)}, signer, signing_key)


def note(kind: str, user: User) -> RosterEntry:
    """An unsigned statement about a guardian: one taking them off the roster, or one only for the notice."""
    if kind not in REMOVING and kind not in INFORMING:
        raise ValueError(f"{kind} adds a reader: it must be signed")
    return append(kind, user.id)
