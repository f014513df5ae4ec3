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

``replay`` is pure (rows and the root in, the state out); ``append`` and ``entries`` are its database side.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Row, select

from speakup.crypto import sealing, signing
from speakup.platform import clock
from speakup.platform.models import Role, RosterEntry, User, db

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

REMOVING = frozenset({DISABLE, RESET, REMOVE, KEYS_MISMATCH})
INFORMING = frozenset({ADDED, ENABLED})


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
    statement = _parse(entry.statement)
    try:
        at = datetime.fromisoformat(str(statement["at"]).removesuffix("Z")) if statement else None
    except (KeyError, ValueError):
        return None
    if at is not None and at.tzinfo is not None:  # the service writes naive UTC; anything else is converted
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at


def approvals_needed(required: int, others: int) -> int:
    """``required`` approvals (ROSTER_APPROVALS_REQUIRED) once at least that many other guardians are approved;
    while the roster is smaller, one, or nobody could ever be added."""
    return max(1, min(required, others))


# --- Replay ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    subject: dict[str, Any]
    approvers: frozenset[tuple[int | str, str]]  # (who signed, the fingerprint of the key they signed with)


@dataclass
class Replay:
    """The roster the log describes. ``problem`` set means the log cannot be trusted past that point: the caller
    then believes nobody (``members`` still holds the state reached before it, for `speakup roster accept`)."""

    members: dict[int, dict[str, Any]] = field(default_factory=dict)  # user id -> the subject approved
    waiting: dict[int, Waiting] = field(default_factory=dict)
    recovery_key: bytes | None = None
    root_key: bytes | None = None
    head_seq: int = 0
    head_hash: str = ""
    checkpoint_at: str = ""
    problem: str | None = None
    # Accounts whose stored keys were found not to be their own at sign-in: approved again only after a reset.
    mismatched: set[int] = field(default_factory=set)
    # (user id, public key) for the keys a reset took off the roster since the checkpoint: never approved again, so
    # a database writer who puts an account's old keys back (and grants made for them) cannot get them approved.
    retired: set[tuple[int, str]] = field(default_factory=set)
    # Every roster since the checkpoint. The approvals a newcomer needs count the most guardians there have been
    # besides them, not how many are left: otherwise an administrator could disable the others first, and one
    # guardian's approval would be enough. Only the organisation key (a checkpoint, or its approval) lowers it.
    rosters: list[frozenset[int]] = field(default_factory=list)

    def needed_for(self, user_id: int, required: int) -> int:
        others = max((len(members - {user_id}) for members in self.rosters), default=0)
        return approvals_needed(required, others)

    def note_roster(self) -> None:
        current = frozenset(self.members)
        if not self.rosters or self.rosters[-1] != current:
            self.rosters.append(current)

    def retire_keys_of(self, user_id: int) -> None:
        waiting = self.waiting.get(user_id)
        for subject in (self.members.get(user_id), waiting.subject if waiting else None):
            for name in ("hpke_public", "signing_public"):
                if subject and subject.get(name):
                    self.retired.add((user_id, str(subject[name])))

    def holds_retired_keys(self, user_id: int, subject: dict[str, Any]) -> bool:
        return any((user_id, str(subject.get(name))) in self.retired for name in ("hpke_public", "signing_public"))

    def fail(self, seq: int, why: str) -> Replay:
        self.problem = f"roster log entry {seq}: {why}"
        return self


def _parse(statement: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(statement)
    except (ValueError, UnicodeDecodeError, TypeError, RecursionError):
        return None
    if not isinstance(parsed, dict) or parsed.get("protocol") != sealing.PROTOCOL or parsed.get("context") != CONTEXT:
        return None
    return parsed


def _checkpoint_root(statement: dict[str, Any], pinned: str | None, stored_root: bytes | None) -> bytes | None:
    """The organisation key a checkpoint names, if the pin (or, unpinned in development, the stored key) agrees."""
    root = unb64(statement.get("root_public"))
    if root is None:
        return None
    if pinned:
        wanted = signing.normalise_fingerprint(pinned)
        return root if signing.normalise_fingerprint(signing.roster_fingerprint(root)) == wanted else None
    return root if root == stored_root else None


def _newest_checkpoint(entries: Sequence[Entry], pinned: str | None, stored_root: bytes | None) -> int | None:
    for index in range(len(entries) - 1, -1, -1):
        row = entries[index]
        if row.kind != CHECKPOINT:
            continue
        statement = _parse(row.statement)
        if (
            statement is None
            or statement.get("kind") != CHECKPOINT
            or statement.get("signer") != ORGANISATION
            or statement.get("seq") != row.seq  # an old checkpoint copied to the end must not restart the replay
        ):
            continue
        root = _checkpoint_root(statement, pinned, stored_root)
        if root is not None and row.signature and signing.verify_signature(root, CONTEXT, row.statement, row.signature):
            return index
    return None


def replay(entries: Sequence[Entry], pinned: str | None, stored_root: bytes | None, required: int) -> Replay:
    """The verified roster: from the newest checkpoint the organisation key signed, every later entry in place,
    chained to the one before, and each approval signed by someone on the roster at that moment."""
    state = Replay()
    entries = sorted(entries, key=lambda row: row.seq)
    if not entries:
        state.problem = "the roster log has not been started (run `speakup roster upgrade --recovery-key-file`)"
        return state
    start = _newest_checkpoint(entries, pinned, stored_root)
    if start is None:
        state.problem = "no checkpoint of the roster log verifies with the organisation key"
        return state
    checkpoint = _parse(entries[start].statement) or {}  # _newest_checkpoint parsed it
    state.root_key = _checkpoint_root(checkpoint, pinned, stored_root)
    state.recovery_key = unb64(checkpoint.get("recovery_public"))
    state.checkpoint_at = str(checkpoint.get("at", ""))
    members = checkpoint.get("members")
    if state.recovery_key is None or not isinstance(members, list):
        return state.fail(entries[start].seq, "the checkpoint is malformed")
    state.members = {member["user_id"]: member for member in members if _is_subject(member, member.get("user_id"))}
    state.note_roster()
    previous = entries[start]
    for row in entries[start + 1 :]:
        statement = _parse(row.statement)
        if (
            statement is None
            or row.seq != previous.seq + 1
            or statement.get("seq") != row.seq
            or statement.get("prev") != entry_hash(previous)
            or statement.get("kind") != row.kind
            or statement.get("user_id") != row.user_id
        ):
            return state.fail(row.seq, "it is out of place, edited, or the entry before it is missing")
        why = _apply(state, row, statement, required)
        if why:
            return state.fail(row.seq, why)
        state.note_roster()
        previous = row
    state.head_seq, state.head_hash = previous.seq, entry_hash(previous)
    return state


def _is_subject(subject: object, user_id: object) -> bool:
    return (
        isinstance(subject, dict)
        and isinstance(user_id, int)
        and subject.get("user_id") == user_id
        and subject.get("role") == Role.GUARDIAN
        and unb64(subject.get("hpke_public")) is not None
        and isinstance(subject.get("email"), str)
    )


def _apply(state: Replay, row: Entry, statement: dict[str, Any], required: int) -> str | None:
    """One entry's effect on the state, or why it cannot be trusted."""
    if row.kind in REMOVING:
        if row.kind == RESET and row.user_id is not None:
            state.retire_keys_of(row.user_id)
        state.members.pop(row.user_id, None)  # type: ignore[arg-type]  # popping None (no account) changes nothing
        state.waiting.pop(row.user_id, None)  # type: ignore[arg-type]  # likewise
        if row.kind == KEYS_MISMATCH and row.user_id is not None:
            state.mismatched.add(row.user_id)
        elif row.kind == RESET:
            state.mismatched.discard(row.user_id)
        return None
    if row.kind in INFORMING:
        return None
    if row.kind != APPROVE:
        return f"an unexpected kind of statement ({row.kind[:20]})"
    return _apply_approval(state, row, statement, required)


def _signer_key(state: Replay, signer: object, user_id: int | None) -> bytes | None:
    """The key an approval must verify under: the organisation's, or a guardian's approved at that moment (and
    never the person approving themselves)."""
    if signer == ORGANISATION:
        return state.root_key
    approver = state.members.get(signer) if isinstance(signer, int) and signer != user_id else None
    return unb64(approver.get("signing_public")) if approver else None


def _holds(state: Replay, member: int | str, key_fingerprint: str) -> bool:
    approved = state.members.get(member) if isinstance(member, int) else None
    signing_public = unb64(approved.get("signing_public")) if approved else None
    return signing_public is not None and signing.roster_fingerprint(signing_public) == key_fingerprint


def _apply_approval(state: Replay, row: Entry, statement: dict[str, Any], required: int) -> str | None:
    user_id = row.user_id
    subject = statement.get("subject")
    if not _is_subject(subject, user_id) or not isinstance(subject, dict) or user_id is None:
        return "the approval is not of a guardian"
    signer = statement.get("signer")
    key = _signer_key(state, signer, user_id)
    if key is None or not isinstance(signer, int | str):  # a key is found only for the organisation or a user id
        return "it is signed by someone who could not approve guardians then"
    if statement.get("signer_key") != signing.roster_fingerprint(key) or not (
        row.signature and signing.verify_signature(key, CONTEXT, row.statement, row.signature)
    ):
        return "its signature does not verify"
    if state.holds_retired_keys(user_id, subject):
        return None  # a valid statement a guardian signed, but of keys a reset retired: it counts for nothing
    current = state.members.get(user_id)
    if current == subject:
        return None
    # A member carried over from before signed rosters (no signing key approved) stays one meanwhile.
    upgrade = {**(current or {}), "signing_public": subject.get("signing_public")}
    if current is not None and (current.get("signing_public") is not None or upgrade != subject):
        return "it approves other keys for an approved guardian"
    earlier = state.waiting.get(user_id)
    approvers = (earlier.approvers if earlier and earlier.subject == subject else frozenset()) | {
        (signer, str(statement.get("signer_key")))
    }
    # An approval counts while its signer is a guardian with the key it was signed with: not after they were reset
    # (or removed) and approved again with new keys.
    counted = frozenset(
        (approver, key) for approver, key in approvers if approver == ORGANISATION or _holds(state, approver, key)
    )
    signers = {approver for approver, _key in counted}
    if ORGANISATION in signers or len(signers) >= state.needed_for(user_id, required):
        state.members[user_id] = subject
        state.waiting.pop(user_id, None)
    else:
        state.waiting[user_id] = Waiting(subject, counted)
    return None


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


def append(
    kind: str,
    user_id: int | None = None,
    body: Mapping[str, object] | None = None,
    signer: int | str | None = None,
    signing_key: bytes | None = None,
) -> RosterEntry:
    """Adds one statement after the head, signed when ``signing_key`` is given. The caller commits; two appends
    racing for the same place are refused by the primary key, and the later one changes nothing."""
    last = head()
    now = clock.utcnow()
    seq = last.seq + 1 if last is not None else 1
    statement: dict[str, object] = {
        "protocol": sealing.PROTOCOL,
        "context": CONTEXT,
        "seq": seq,
        "prev": entry_hash(last) if last is not None else "",
        "kind": kind,
        "user_id": user_id,
        "at": timestamp(now),
        **(body or {}),
    }
    if signing_key is not None:
        statement["signer"] = signer
        statement["signer_key"] = signing.roster_fingerprint(signing.signing_public_key_of(signing_key))
    encoded = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()
    signature = signing.sign(signing_key, CONTEXT, encoded) if signing_key is not None else None
    row = RosterEntry(seq=seq, kind=kind, user_id=user_id, statement=encoded, signature=signature, created_at=now)
    db.session.add(row)
    db.session.flush()
    return row


def checkpoint(organisation_signing_key: bytes, recovery_public: bytes, members: list[dict[str, Any]]) -> RosterEntry:
    """The organisation key vouches for the roster as it stands: the first entry, or after an alarm or restore."""
    body = {
        "root_public": b64(signing.signing_public_key_of(organisation_signing_key)),
        "recovery_public": b64(recovery_public),
        "members": sorted(members, key=lambda member: member["user_id"]),
    }
    return append(CHECKPOINT, None, body, ORGANISATION, organisation_signing_key)


def approve(user: User, signer: int | str, signing_key: bytes) -> RosterEntry:
    return append(APPROVE, user.id, {"subject": subject_of(user)}, signer, signing_key)


def note(kind: str, user: User) -> RosterEntry:
    """An unsigned statement about a guardian: one taking them off the roster, or one only for the notice."""
    if kind not in REMOVING and kind not in INFORMING:
        raise ValueError(f"{kind} adds a reader: it must be signed")
    return append(kind, user.id)
