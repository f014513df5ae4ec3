"""What the service appended to the roster log is anchored as it computed it, not as the database shows it (outside
review r5 of issue 27, F1).

A database writer can have the database drop an insert without an error (a trigger returning NULL, a rule doing
nothing instead, a delete right after). The log read back after the commit is then still a whole chain, one entry
short, and verifying it would anchor it: the used link, the revoked token, the replaced code or the disabled guardian
would be forgotten with nobody told. So once the appending transaction is committed, the head it computed itself
must be in the log with the same hash; if it is not, the anchor is moved to it all the same, and every verification
from then on finds the log short of it: a roster alarm, on every server that reads the anchor file.
"""

from __future__ import annotations

from dataclasses import replace

from flask import current_app

from speakup.crypto import signing
from speakup.keys import anchor, roster, roster_log
from speakup.platform import clock


def anchor_written(written: roster_log.Written) -> None:
    """After the commit of a transaction that appended ``written`` (place, hash) to the log: its head anchored first,
    then the log verified at once, which must hold each of them unchanged."""
    if written and not written.ceremony:
        # Before the database is read at all: a read that fails (a database writer ended the connection) or alarms
        # (a row put in its way) must not leave what the service wrote unanchored, free to be deleted unseen
        # (outside review r6 of issue 27, F1).
        _anchor_ahead(*written[-1])
    roster.current_roster()  # the committed log verified, its head anchored when it holds
    # Not kept as this process's roster: the next concern verifies the whole log again, so an entry edited behind
    # this head meanwhile is seen at once, not at the next periodic check.
    current_app.extensions.get("speakup_roster", {}).pop("roster", None)
    if not written or all(_holds(seq, hashed) for seq, hashed in written):
        return
    seq, hashed = written[-1]
    slot = roster.root_slot_in_force()
    if slot is None:
        return
    at = roster_log.timestamp(clock.utcnow())
    anchored = roster.anchored_in_force()
    if anchored is None:
        replayed = roster.replay_as_far_as_it_verifies()
        root = signing.roster_fingerprint(replayed.root_key) if replayed.root_key else ""
        anchored = anchor.Anchor(
            seq, hashed, at, roster_log.b64(replayed.recovery_key), replayed.checkpoint_at, root
        )
    anchor.write_anchor(slot, replace(anchored, seq=seq, hash=hashed, at=at), force=True)
    roster.current_roster()  # the alarm, now: the log does not reach what the service wrote


roster_log.when_written(anchor_written)


def _anchor_ahead(seq: int, hashed: str) -> None:
    """Moves this server's anchor on to what it has just written, never back; a server that has anchored nothing yet
    waits for its first verification."""
    slot = roster.root_slot_in_force()
    anchored = roster.anchored_in_force() if slot is not None else None
    if slot is not None and anchored is not None and anchored.seq < seq:
        anchor.write_anchor(slot, replace(anchored, seq=seq, hash=hashed, at=roster_log.timestamp(clock.utcnow())))


def _holds(seq: int, hashed: str) -> bool:
    entry = roster_log.at(seq)
    return entry is not None and roster_log.entry_hash(entry) == hashed


def log_short_of_anchor() -> bool:
    """Whether the log no longer holds the head this server anchored unchanged (or the anchor cannot be read): entries
    this server saw are missing, and what they said (a token revoked) is not known (`speakup roster accept`)."""
    slot = roster.root_slot_in_force()
    if slot is None:
        return False
    try:
        anchored = anchor.read_anchor(slot)
    except anchor.AnchorUnreadable:
        return True
    return anchored is not None and not _holds(anchored.seq, anchored.hash)
