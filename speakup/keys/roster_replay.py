"""The roster log replayed: from the newest checkpoint the organisation key signed, each later entry checked in
place and applied, to the roster it describes (speakup/keys/roster_log.py has the kinds of statement; docs/protocol.md
the formats). Pure: rows and the root in, the state out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from speakup.crypto import signing
from speakup.keys.roster_log import (
    APPROVE,
    CHECKPOINT,
    CODE_GIVEN,
    CONTEXT,
    HANDOVER,
    INFORMING,
    KEYS_MISMATCH,
    ORGANISATION,
    RECORDING,
    REMOVING,
    RESET,
    Entry,
    approvals_needed,
    entry_hash,
    parse_statement,
    unb64,
)
from speakup.keys.spent import Spent, from_checkpoint
from speakup.platform.models import Role

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
    root_key: bytes | None = None  # the organisation key in force: the checkpoint's, or the last hand-over's
    retired_roots: list[bytes] = field(default_factory=list)  # organisation keys handed over from, oldest first
    head_seq: int = 0
    head_hash: str = ""
    checkpoint_at: str = ""
    problem: str | None = None
    # Accounts whose stored keys were found not to be their own at sign-in: approved again only after a reset.
    mismatched: set[int] = field(default_factory=set)
    # (user id, public key) for the keys a reset took off the roster since the checkpoint: never approved again, so
    # a database writer who puts an account's old keys back (and grants made for them) cannot get them approved.
    retired: set[tuple[int, str]] = field(default_factory=set)
    # Case id -> the keyed hash of the access code its guardian gave last (roster_log.code_given).
    codes: dict[int, str] = field(default_factory=dict)
    # Enrolment links issued and used, statistics tokens revoked (keys/spent.py).
    spent: Spent = field(default_factory=Spent)
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
        statement = parse_statement(row.statement)
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
    state.root_key = _checkpoint_root(parse_statement(entries[start].statement) or {}, pinned, stored_root)
    why = _begin(state, entries[start]) or handed_over_before(entries[:start], state.root_key)
    if why:
        return state.fail(entries[start].seq, why)
    state.note_roster()
    previous = entries[start]
    for row in entries[start + 1 :]:
        statement = parse_statement(row.statement)
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


def _begin(state: Replay, row: Entry) -> str | None:
    """Starts afresh from a checkpoint the root in force signed: its members, recovery key and codes, and nothing
    remembered from before it (what was waiting, retired or mismatched is for the organisation to have settled)."""
    checkpoint = parse_statement(row.statement) or {}
    state.recovery_key = unb64(checkpoint.get("recovery_public"))
    state.checkpoint_at = str(checkpoint.get("at", ""))
    members, codes = checkpoint.get("members"), checkpoint.get("codes", {})
    if state.recovery_key is None or not isinstance(members, list):
        return "the checkpoint is malformed"
    if not isinstance(codes, dict) or not all(key.isdigit() and isinstance(code, str) for key, code in codes.items()):
        return "the checkpoint is malformed"
    state.members = {member["user_id"]: member for member in members if _is_subject(member, member.get("user_id"))}
    state.codes = {int(case_id): code for case_id, code in codes.items()}
    carried = from_checkpoint(checkpoint)
    if carried is None:
        return "the checkpoint is malformed"
    state.spent = carried
    state.waiting, state.mismatched, state.retired, state.rosters = {}, set(), set(), []
    return None


def _signed_by_root(state: Replay, row: Entry, statement: dict[str, Any]) -> bool:
    """Whether the organisation signed this entry with the root in force."""
    root = state.root_key
    return (
        root is not None
        and statement.get("signer") == ORGANISATION
        and statement.get("signer_key") == signing.roster_fingerprint(root)
        and bool(row.signature)
        and signing.verify_signature(root, CONTEXT, row.statement, row.signature or b"")
    )


def handed_over_before(earlier: Sequence[Entry], root: bytes | None) -> str | None:
    """A checkpoint signed by a root that had already handed the roster over (a retired key, perhaps the one that
    was stolen) starts nothing: the pin must move to the new root."""
    for row in earlier:  # the row's kind column is not trusted here: the statement says what it is
        statement = parse_statement(row.statement) if b'"handover"' in row.statement else None
        if statement and statement.get("kind") == HANDOVER and _signed_by_root(Replay(root_key=root), row, statement):
            return "the checkpoint is signed by an organisation key that had handed the roster over"
    return None


def _apply_handover(state: Replay, row: Entry, statement: dict[str, Any]) -> str | None:
    """The root in force names its successor: from here on, only the new key speaks for the organisation."""
    new_root = unb64(statement.get("new_root_public"))
    if not _signed_by_root(state, row, statement):
        return "a hand-over of the organisation key not signed by the organisation key in force"
    if new_root is None or len(new_root) != signing.SIGNING_PUBLIC_BYTES or new_root in state.retired_roots:
        return "a hand-over to a key that cannot be the organisation's"
    if state.root_key is not None and state.root_key != new_root:
        state.retired_roots.append(state.root_key)
    state.root_key = new_root
    return None


def _restart(state: Replay, row: Entry, statement: dict[str, Any]) -> str | None:
    """A later checkpoint, signed by the root in force and naming it: the replay starts afresh from it."""
    if not _signed_by_root(state, row, statement) or unb64(statement.get("root_public")) != state.root_key:
        return "a checkpoint not signed by the organisation key in force"
    return _begin(state, row)


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
        return _apply_removal(state, row)
    if row.kind in INFORMING:
        return None
    if row.kind in RECORDING:
        return state.spent.apply(row, statement)
    if row.kind == CODE_GIVEN:
        return _apply_code(state, row, statement)
    if row.kind == HANDOVER:
        return _apply_handover(state, row, statement)
    if row.kind == CHECKPOINT:
        return _restart(state, row, statement)
    if row.kind != APPROVE:
        return f"an unexpected kind of statement ({row.kind[:20]})"
    return _apply_approval(state, row, statement, required)


def _apply_removal(state: Replay, row: Entry) -> str | None:
    if row.kind == RESET and row.user_id is not None:
        state.retire_keys_of(row.user_id)
    state.members.pop(row.user_id, None)  # type: ignore[arg-type]  # popping None (no account) changes nothing
    state.waiting.pop(row.user_id, None)  # type: ignore[arg-type]  # likewise
    if row.kind == KEYS_MISMATCH and row.user_id is not None:
        state.mismatched.add(row.user_id)
    elif row.kind == RESET:
        state.mismatched.discard(row.user_id)
    return None


def _signer_key(state: Replay, signer: object, user_id: int | None) -> bytes | None:
    """The key an approval must verify under: the organisation's, or a guardian's approved at that moment (and
    never the person approving themselves)."""
    if signer == ORGANISATION:
        return state.root_key
    approver = state.members.get(signer) if isinstance(signer, int) and signer != user_id else None
    return unb64(approver.get("signing_public")) if approver else None


def _apply_code(state: Replay, row: Entry, statement: dict[str, Any]) -> str | None:
    """A new access code for a case, signed by a guardian on the roster at that moment."""
    case_id, code, signer = statement.get("case_id"), statement.get("code"), statement.get("signer")
    if not isinstance(case_id, int) or not isinstance(code, str) or not isinstance(signer, int):
        return "the access code statement is malformed"
    key = _signer_key(state, signer, None)
    if key is None or statement.get("signer_key") != signing.roster_fingerprint(key):
        return "it is signed by someone who could not give access codes then"
    if not (row.signature and signing.verify_signature(key, CONTEXT, row.statement, row.signature)):
        return "its signature does not verify"
    state.codes[case_id] = code
    return None


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
