"""Who is a guardian: the verified roster (docs/threat-model.md, who receives a case key; docs/protocol.md, the log).

The server wraps every new case key for each guardian it believes in and for the recovery key, so neither belief may
rest on anything an administrator or a database writer can change. Every input to the decision is authenticated up
to the organisation signing key pinned outside the database (``SPEAKUP_ROSTER_ROOT``), or lives outside it:

- the roster log (speakup/keys/roster_log.py): a checkpoint the organisation key signed, then approvals signed by
  approved guardians (as many as ROSTER_APPROVALS_REQUIRED asks) and unsigned removals, hash-chained;
- the log's head as this instance last saw it (speakup/keys/anchor.py, in the instance folder): a log that no longer
  reaches it was rolled back, and is refused until the organisation key signs a newer checkpoint;
- the recovery public key: the one the checkpoint names, never the stored ``organisation_keys`` row;
- each member's account row must still match what was approved (keys, address, role) and be active. A row that no
  longer matches is left out and alarmed; one disabled is simply left out.

Any doubt about the log itself (a broken chain, a bad signature, a rollback) is a roster alarm: nobody is believed,
and new concerns are sealed for the recovery key alone, so nothing is lost and nobody unapproved reads.

``current_roster()`` is cached per process under a digest of everything it rests on (the guardian rows, the log's
head entry, the anchor file's stamp and the settings), so the steady state pays two small queries, one stat and no
signature check, and any change is verified again before the next wrap.

Transactions: the roster's only database write is a roster alarm (an audit event); ``current_roster()`` commits it at
once, so call it before the caller's own changes begin.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, TypeAlias, cast

from flask import current_app
from sqlalchemy import Row, select

from speakup.crypto import kem, signing
from speakup.keys import account_identity, anchor, roster_log, roster_replay
from speakup.keys.spent import Spent, forged_issue
from speakup.ops import audit
from speakup.platform import clock, transactions
from speakup.platform.config import settings
from speakup.platform.models import KeyPurpose, OrganisationKey, Role, User, db

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RosterMember:
    """A guardian the log approved, whose account still matches. Wrap for these keys: they are the approved ones."""

    id: int
    email: str
    name: str
    public_key: bytes
    # None for an approval carried over from before signed rosters: such a guardian receives concerns but cannot
    # approve others until approved again.
    signing_public_key: bytes | None
    is_active: bool = True  # only active guardians are members; notify reads this of any recipient


@dataclass(frozen=True)
class RosterFailure:
    user_id: int | None
    email: str
    reason: str


@dataclass(frozen=True)
class Approvals:
    """A pending guardian's approvals so far, of the keys they hold now."""

    have: int
    need: int
    approvers: frozenset[int | str]


@dataclass(frozen=True)
class Roster:
    members: dict[int, RosterMember]
    failures: tuple[RosterFailure, ...]
    recovery_key: bytes | None
    problem: str | None = None  # set: a roster alarm about the log itself, and nobody is believed
    waiting: dict[int, Approvals] = field(default_factory=dict)
    mismatched: frozenset[int] = frozenset()  # stored keys found not to be the person's own: reset them first
    head: tuple[int, str] | None = None  # the verified log's last entry and its hash
    digest: str = field(default="", compare=False)
    retired: frozenset[tuple[int, str]] = frozenset()  # (user id, public key) a reset took off: never approved again
    # Case id -> the keyed hash of the access code its guardian gave last, as the log names it; None while the log
    # cannot be trusted (an alarm), when no access code can be checked (keys/grants.py).
    codes: dict[int, str] | None = None
    root_key: bytes | None = None  # the organisation key in force (a hand-over moves it from the pinned one)
    spent: Spent | None = None  # links issued and used, tokens revoked, as the log names them; None in an alarm

    def member(self, user_id: int) -> RosterMember | None:
        return self.members.get(user_id)

    def guardians(self, exclude_ids: tuple[int | None, ...] = ()) -> list[RosterMember]:
        return [member for member_id, member in self.members.items() if member_id not in exclude_ids]

    def approvals_of(self, user_id: int) -> Approvals | None:
        return self.waiting.get(user_id)

    def holds_retired_keys(self, user: User) -> bool:
        """Whether ``user``'s stored keys are ones a reset took off the roster (put back in the database)."""
        keys = (roster_log.b64(user.public_key), roster_log.b64(user.signing_public_key))
        return any((user.id, key) in self.retired for key in keys if key)


_ROW_COLUMNS = (*account_identity.STAMPED_COLUMNS, User.public_key, User.signing_public_key)  # approved, and stamped
GuardianRow: TypeAlias = "Row[Any]"


def _guardian_rows() -> list[GuardianRow]:
    """Every guardian account's columns the roster compares (rows, not loaded accounts: this runs for every concern)."""
    return list(db.session.execute(select(*_ROW_COLUMNS).where(User.role == Role.GUARDIAN)))


def pinned_root() -> str | None:
    pinned = settings().roster_root
    return signing.normalise_fingerprint(str(pinned)) if pinned else None


def stored_root_key() -> bytes | None:
    return db.session.scalar(select(OrganisationKey.public_key).where(OrganisationKey.purpose == KeyPurpose.ROSTER))


def trusted_root_key() -> bytes | None:
    """The organisation signing key in force: the pinned one (unpinned, as in development, the stored one), or the
    key the log's hand-overs signed by it lead to (keys/roster_replay.py). What a key file's signing key must be,
    and what a statement the organisation signed outside the roster log (an audit restore line) is checked against.
    Before the log starts, or when no checkpoint verifies, the stored key if the pin names it."""
    replayed = replay_as_far_as_it_verifies()
    if replayed.root_key is not None:
        return replayed.root_key
    stored, pinned = stored_root_key(), pinned_root()
    if stored is None or (pinned and signing.normalise_fingerprint(signing.roster_fingerprint(stored)) != pinned):
        return None
    return stored


def _root_slot(pinned: str | None, stored_root: bytes | None) -> str | None:
    """The anchor file's key for this installation: the pinned fingerprint (the stored key's, unpinned)."""
    if pinned:
        return pinned
    return signing.normalise_fingerprint(signing.roster_fingerprint(stored_root)) if stored_root else None


def _digest(rows: list[GuardianRow], head: roster_log.Entry | None) -> str:
    """What the cached roster rests on: the guardian rows, the log's head, and the anchor file's stamp (another
    worker moving the anchor makes this one verify again, so a log cut back behind an idle worker is seen)."""
    digest = hashlib.sha256()
    configured = settings()
    digest.update(f"{pinned_root()}|{configured.environment}|{configured.roster_approvals_required}|".encode())
    digest.update(f"{roster_log.entry_hash(head) if head else '-'}|{anchor.stamp()}|".encode())
    for row in rows:
        fields = (row.id, row.email, row.name, row.role, row.is_active, row.identity_stamp)
        digest.update(repr(fields).encode() + (row.public_key or b"-") + b"|" + (row.signing_public_key or b"-"))
    return digest.hexdigest()


def _read_anchor(slot: str | None) -> tuple[anchor.Anchor | None, str | None]:
    if slot is None:
        return None, None
    try:
        return anchor.read_anchor(slot), None
    except anchor.AnchorUnreadable as exc:
        return None, str(exc)


def _replay(entries: list[roster_log.Entry]) -> roster_replay.Replay:
    pinned = pinned_root()
    if not pinned and settings().environment == "production":
        return roster_replay.Replay(problem="SPEAKUP_ROSTER_ROOT is not set")
    stored = stored_root_key() if not pinned else None
    return roster_replay.replay(entries, pinned, stored, int(settings().roster_approvals_required))


def _rolled_back(entries: list[roster_log.Entry], replay: roster_replay.Replay, anchored: anchor.Anchor) -> bool:
    """Whether the log no longer reaches the head this instance anchored, with no newer checkpoint vouching for it."""
    if replay.checkpoint_at > (anchored.checkpoint_at or anchored.at):
        return False  # the organisation key signed the log as it now is, after the checkpoint this anchor rests on
    reached = next((entry for entry in entries if entry.seq == anchored.seq), None)
    return reached is None or roster_log.entry_hash(reached) != anchored.hash


def _verify(rows: list[GuardianRow], digest: str) -> Roster:
    # The anchor is read before the log: an anchor is written only after the head it names was committed, so a
    # log read after it always reaches it, however other workers interleave.
    anchored, anchor_problem = _read_anchor(_root_slot(pinned_root(), None if pinned_root() else stored_root_key()))
    entries = roster_log.entries()
    replay = _replay(entries)
    problem = replay.problem or anchor_problem or forged_issue(replay.spent, settings().token_peppers)
    if anchored is not None and not entries:
        problem = f"the roster log is empty, but this server saw entry {anchored.seq}: it was deleted or rolled back"
    if problem is None and anchored is not None and _rolled_back(entries, replay, anchored):
        problem = f"the roster log no longer reaches entry {anchored.seq}, which this server saw: it was rolled back"
    roots = [signing.roster_fingerprint(key) for key in [*replay.retired_roots, replay.root_key] if key]
    if problem is None and anchored is not None and anchored.root and anchored.root not in roots:
        problem = "the roster log no longer hands over to the organisation key this server saw in force"
    recovery_key = replay.recovery_key
    if anchored is not None and anchored.recovery_public and (problem is not None or recovery_key is None):
        # In doubt, seal only for the recovery key this server last saw in force, never one the database now names
        # (a backup from before `rotate-recovery-key` names the retired key, which its old file opens).
        recovery_key = roster_log.unb64(anchored.recovery_public)
    if problem is not None:
        return Roster({}, (), recovery_key, problem, {}, frozenset(), None, digest)
    slot = _root_slot(pinned_root(), replay.root_key)
    if slot and (anchored is None or (anchored.seq, anchored.hash) != (replay.head_seq, replay.head_hash)):
        at = roster_log.timestamp(clock.utcnow())
        anchored_now = anchor.Anchor(
            replay.head_seq, replay.head_hash, at, roster_log.b64(recovery_key), replay.checkpoint_at, roots[-1]
        )
        anchor.write_anchor(slot, anchored_now)
    members, failures, waiting = _compare_rows(replay, rows)
    head = (replay.head_seq, replay.head_hash)
    return Roster(
        members, tuple(failures), recovery_key, None, waiting, frozenset(replay.mismatched), head, digest,
        retired=frozenset(replay.retired), codes=dict(replay.codes), root_key=replay.root_key, spent=replay.spent,
    )  # fmt: skip


def _current_subject(row: GuardianRow, approved: dict[str, Any]) -> dict[str, object]:
    current = roster_log.subject_of(row)
    if approved.get("signing_public") is None:
        current["signing_public"] = None  # carried over from before signed rosters: the HPKE key only
    return current


def _compare_rows(
    replay: roster_replay.Replay, rows: list[GuardianRow]
) -> tuple[dict[int, RosterMember], list[RosterFailure], dict[int, Approvals]]:
    by_id = {row.id: row for row in rows}
    members: dict[int, RosterMember] = {}
    failures: list[RosterFailure] = []
    for user_id, subject in replay.members.items():
        row = by_id.get(user_id)
        if row is None or not row.is_active:
            continue  # deleted or disabled: taking a reader away needs nobody's authority
        if _current_subject(row, subject) != subject:
            failures.append(RosterFailure(user_id, row.email, "its keys or details are not the ones approved"))
            continue
        if not account_identity.holds(row):  # its name, which reporters exclude by, included (outside review r8, F1)
            failures.append(RosterFailure(user_id, row.email, "its row is not as the service left it"))
            continue
        signing_public = roster_log.unb64(subject.get("signing_public"))
        public_key = cast(bytes, roster_log.unb64(subject["hpke_public"]))  # the replay admits only a key that decodes
        members[user_id] = RosterMember(user_id, row.email, row.name, public_key, signing_public)
    required = int(settings().roster_approvals_required)
    waiting = {
        user_id: Approvals(
            len({signer for signer, _key in pending.approvers}),
            replay.needed_for(user_id, required),
            frozenset(signer for signer, _key in pending.approvers),
        )
        for user_id, pending in replay.waiting.items()
        if user_id in by_id and _current_subject(by_id[user_id], pending.subject) == pending.subject
    }
    return members, failures, waiting


_cache_lock = threading.Lock()
# The digest covers the guardian rows and the log's head only (reading every entry for every concern would cost
# more than the concern): an entry edited behind an unchanged head changes nothing the cached roster was verified
# from, but it should still be seen. So the whole log is verified again at least this often, in each process.
RECHECK_SECONDS = 60.0


# What a database writer can store that Python refuses to read as the statement, key or time it should be (text in a
# binary column on SQLite, a date that is not one, JSON nested beyond the parser's depth): an alarm, never a 500.
_UNREADABLE = (TypeError, ValueError, RecursionError, AttributeError, KeyError)


def _unreadable(exc: Exception) -> Roster:
    problem = f"the roster cannot be read ({type(exc).__name__})"
    return Roster({}, (), _anchored_recovery_key(), problem, {}, frozenset())


def _anchored_recovery_key() -> bytes | None:
    anchored, _problem = _read_anchor(pinned_root())
    return roster_log.unb64(anchored.recovery_public) if anchored and anchored.recovery_public else None


def current_roster() -> Roster:
    """The verified roster, from this process's cache while nothing it rests on has changed."""
    cache = current_app.extensions.setdefault("speakup_roster", {})
    try:
        rows = _guardian_rows()
        head = roster_log.head()
        digest = _digest(rows, head)
        cached: Roster | None = cache.get("roster")
        if cached is not None and cached.digest == digest and time.monotonic() - cache["at"] < RECHECK_SECONDS:
            return cached
        with _cache_lock:
            roster = _verify(rows, digest)
            # Stamped after verifying: the anchor this verification may just have written is part of what it rests on.
            cache["roster"], cache["at"] = replace(roster, digest=_digest(rows, head)), time.monotonic()
    except _UNREADABLE as exc:
        db.session.rollback()
        roster = _unreadable(exc)
        cache.pop("roster", None)
    _raise_alarms(roster, cache.setdefault("alarmed", set()))
    return roster


def verify_roster() -> Roster:
    """Verifies the whole log now, whatever the cache holds (for `speakup roster verify`; /healthz reads the cached
    roster, as every request does)."""
    try:
        rows = _guardian_rows()
        roster = _verify(rows, _digest(rows, roster_log.head()))
    except _UNREADABLE as exc:
        db.session.rollback()
        roster = _unreadable(exc)
    _raise_alarms(roster, set())
    return roster


def _raise_alarms(roster: Roster, already: set[tuple[int | None, str]]) -> None:
    _warn_if_handed_over(roster, already)
    found = [(failure.user_id, failure.reason) for failure in roster.failures]
    if roster.problem:
        found.append((None, roster.problem))
    new = [alarm for alarm in found if alarm not in already]
    for user_id, reason in new:
        # The account id and the reason only: no name or email in the log.
        logger.error("Roster alarm: %s: %s", f"guardian account {user_id}" if user_id else "the roster", reason)
        audit.record(audit.Action.ROSTER_ALARM, audit.Actor.SYSTEM, guardian_id=user_id, reason=reason)
        already.add((user_id, reason))
        # Raised for good once committed with the request: if the request fails, the next one raises it again.
        transactions.if_rolled_back(partial(already.discard, (user_id, reason)))


def _warn_if_handed_over(roster: Roster, already: set[tuple[int | None, str]]) -> None:
    """The pin names an organisation key the log has handed over from (`rotate-organisation-key`): this server
    follows the hand-over, but the operator must pin the new key (once per process; not an alarm)."""
    pinned = pinned_root()
    if roster.problem or roster.root_key is None or not pinned:
        return
    in_force = signing.roster_fingerprint(roster.root_key)
    if signing.normalise_fingerprint(in_force) != pinned and (None, in_force) not in already:
        logger.error(
            "Roster root handed over: SPEAKUP_ROSTER_ROOT pins a retired organisation key; set "
            "SPEAKUP_ROSTER_ROOT=%s and restart", in_force,
        )  # fmt: skip
        already.add((None, in_force))


def safety_code_of(user: User) -> str | None:
    """The code of the keys stored for an account: what an approver's typed code is compared with."""
    if user.public_key is None or user.signing_public_key is None:
        return None
    return signing.safety_code(user.public_key, user.signing_public_key)


def safety_code_held(private_key: bytes, signing_key: bytes | None) -> str | None:
    """The code of the keys a person holds, from the private keys unlocked in their own session: what they read
    out. Never from a database row, which a database writer could have changed since they enrolled."""
    if signing_key is None:
        return None
    return signing.safety_code(kem.public_key_of(private_key), signing.signing_public_key_of(signing_key))


def state_of(user: User, roster: Roster) -> str:
    """What the Team and accounts pages show: disabled, pending (not set up, or waiting for approval), approved."""
    if not user.is_active:
        return "disabled"
    if user.role != Role.GUARDIAN:
        return "active" if user.is_enrolled else "pending"
    return "approved" if roster.member(user.id) is not None else "pending"


def root_slot_in_force() -> str | None:
    return _root_slot(pinned_root(), None if pinned_root() else stored_root_key())


def anchored_in_force() -> anchor.Anchor | None:
    """What this server last verified: the recovery key and organisation key in force then (None if it has no anchor
    yet, or it cannot be read)."""
    return _read_anchor(root_slot_in_force())[0]


def anchored_here() -> bool:
    """Whether this server has anchored a roster log for the pinned root (it has seen one, whatever the database
    now holds)."""
    anchored, problem = _read_anchor(pinned_root())
    return anchored is not None or problem is not None


def handed_over_from(signing_public: bytes) -> bool:
    """Whether the log holds a hand-over this organisation key signed: it was rotated away (retired)."""
    return roster_replay.handed_over_before(roster_log.entries(), signing_public) is not None


def replay_as_far_as_it_verifies() -> roster_replay.Replay:
    """The log's state up to its first problem: the guardians `speakup roster accept` offers to keep."""
    return _replay(roster_log.entries())
