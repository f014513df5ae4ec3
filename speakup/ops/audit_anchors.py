"""Anchors: the audit chain's head, written down outside the database.

The chain alone cannot show that its newest events were deleted: what is left is still a valid chain. An anchor is
the head (id and hash) written down outside the database, by `flask speakup audit anchor` from a timer; later the
chain must still reach every anchored head, unchanged.

A restore from a backup takes the chain back to the backup's head, so the anchors written since are no longer
reached, and `audit verify` would fail every day from then on. `audit accept-restore` ends that deliberately: it
appends a *restore line* naming the restored head, signed with the organisation signing key (held offline, with the
recovery key). A restore line whose signature verifies retires the anchors before it, and anchors the head it
names. Without the key nobody can write one, so a database put back by someone else stays an alarm.
"""

from __future__ import annotations

import base64
import hmac
import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from speakup.ops.audit import ChainCheck
from speakup.platform.models import AuditEvent, db

_ANCHOR_LINE = re.compile(r"event ([0-9]+) ([0-9a-f]{64})(?: (\S+))?(?: .*)?")
_RESTORE_LINE = re.compile(r"restored ([0-9]+) ([0-9a-f]{64}) (\S+) sig ([A-Za-z0-9_=-]+)")
RESTORE_CONTEXT = "speakup audit restore"  # the signature's domain: never valid as any other signed statement


@dataclass(frozen=True)
class Anchor:
    event_id: int
    hash: str
    at: str = field(default="", compare=False)  # when it was written (``timestamp``), if the line says


@dataclass(frozen=True)
class Restore:
    """A restore line: the head the chain was restored to, when, and the organisation key's signature over both."""

    head: Anchor
    at: str
    signature: bytes

    def statement(self) -> bytes:
        return restore_statement(self.head.event_id, self.head.hash, self.at)


def timestamp(at: datetime) -> str:
    """A UTC time as the anchor file writes it."""
    return f"{at.isoformat(timespec='seconds')}Z"


def anchor_line(check: ChainCheck, at: datetime) -> str:
    """One line for the anchor file: ``event <id> <hash> <UTC time>``."""
    return f"event {check.last_id} {check.last_hash} {timestamp(at)}"


def restore_statement(event_id: int, event_hash: str, at: str) -> bytes:
    return f"restored|{event_id}|{event_hash}|{at}".encode()


def restore_line(check: ChainCheck, when: str, signature: bytes) -> str:
    """``restored <id> <hash> <UTC time> sig <signature>``; the signature is over ``restore_statement``'s bytes."""
    return f"restored {check.last_id} {check.last_hash} {when} sig {base64.urlsafe_b64encode(signature).decode()}"


def parse_anchors(text: str) -> list[Anchor | Restore]:
    """The anchors and restore lines in an anchor file, in order; blank lines and # comments are skipped. ValueError
    names a bad line."""
    entries: list[Anchor | Restore] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if match := _ANCHOR_LINE.fullmatch(line):
            entries.append(Anchor(int(match.group(1)), match.group(2), match.group(3) or ""))
        elif match := _RESTORE_LINE.fullmatch(line):
            head = Anchor(int(match.group(1)), match.group(2))
            entries.append(Restore(head, match.group(3), base64.urlsafe_b64decode(match.group(4))))
        else:
            raise ValueError(f"line {number} is not an anchor (event <id> <hash> <time>) or a restore line")
    return entries


def anchors_in_force(entries: list[Anchor | Restore], signed: set[Restore]) -> list[Anchor]:
    """The anchors the chain must reach: those after the last restore line in ``signed`` (whose signature verified),
    and the head that line names. A restore line that is not signed retires nothing, and nor does one older than a
    line above it: a genuine line copied below anchors written after it (outside review of issue 27) would otherwise
    retire them, and with them the events deleted since. Times are ``timestamp``'s, which compare as text."""
    anchors: list[Anchor] = []
    latest = ""
    for entry in entries:
        if isinstance(entry, Restore):
            if entry in signed and entry.at >= latest:
                anchors = [entry.head]
            latest = max(latest, entry.at)
        else:
            anchors.append(entry)
            latest = max(latest, entry.at)
    return anchors


def unreached_anchors(anchors: list[Anchor]) -> list[Anchor]:
    """Anchors the chain no longer reaches: their event is gone or holds another hash. Check the chain itself first
    (``check_chain``): an intact chain with an anchored row unchanged reaches that head."""
    if not anchors:
        return []
    ids = {anchor.event_id for anchor in anchors}
    stored = dict(db.session.execute(select(AuditEvent.id, AuditEvent.hash).where(AuditEvent.id.in_(ids))).all())
    return [anchor for anchor in anchors if not hmac.compare_digest(stored.get(anchor.event_id, ""), anchor.hash)]
