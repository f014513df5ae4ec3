"""Retention: crypto-shredding closed cases once ``RETENTION_DAYS`` have passed since they closed.

Every case's text, messages, notes and files are sealed under its own case key, and that key exists only wrapped
in grant rows (for guardians, the recovery key and the reporter's access code). Purging a case deletes every
grant, so the case key is gone and nothing of the case can be opened again, by anyone, even from a copy of the
ciphertext. The ciphertexts themselves are deleted too (messages, notes, attachments, reporter sessions, and the
concern, identity and learning columns set to NULL), and the access-code lookup id is replaced by a random value
that no code maps to, so the old code finds nothing and cannot even be linked to the case's reference.

What stays is the case row's plain, counted fields (dates, anonymity, staff group, themes, status, outcome,
detriment, the feedback answer) and its timeline of status changes, which hold no free text: past quarters of the
national return and the board report count the same numbers after a purge as before it.

Deleted is not the same as gone from the disk, so:

* **SQLite** runs with ``PRAGMA secure_delete=ON`` on every connection (speakup/platform/sqlite.py): SQLite then
  overwrites deleted content with zeros instead of leaving it in free space in the file. That matters beyond the
  purge: every UPDATE of a case row rewrites the row, and without it older copies of a row (with its ciphertext)
  linger in free space. After a purge in WAL mode, the WAL is checkpointed with ``TRUNCATE``, so the pre-purge
  page images do not stay in the ``-wal`` file.
* **PostgreSQL** has no secure delete: deleted rows stay as dead tuples until VACUUM reuses their space, and in
  the server's WAL archive and backups. The deleted grants go the same way, so the protection there is the
  crypto-shredding plus the backup retention period: once backups older than the purge have expired, no copy of a
  wrapped case key remains. Run ``VACUUM`` (or ``VACUUM FULL`` in a quiet hour) after a large purge to speed it up.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Engine, delete, select, text
from sqlalchemy.orm.exc import StaleDataError

from speakup.domain import workflow
from speakup.ops import audit
from speakup.platform import clock, transactions
from speakup.platform.config import settings
from speakup.platform.models import (
    Attachment,
    Case,
    CaseExclusion,
    CaseGrant,
    CaseNote,
    DeadlineExtension,
    Message,
    ReporterSession,
    ShareRequest,
    db,
)

# Rows of child tables are deleted for this many cases per statement, well below SQLite's bound-variable limit.
CHUNK = 500
# A purged case's access_lookup_id: never a hex HMAC (it holds a "-"), random so the unique index holds.
PURGED_LOOKUP_PREFIX = "purged-"


class PurgeConflict(Exception):
    """A case changed (for example a guardian reopened it) while it was being purged: nothing was purged."""


@dataclass(frozen=True)
class PurgedCase:
    case_id: int
    reference: str
    closed_at: datetime


@dataclass
class PurgeResult:
    cases: list[PurgedCase] = field(default_factory=list)
    dry_run: bool = False
    # SQLite in WAL mode: whether the WAL was checkpointed and truncated after the purge (None elsewhere).
    wal_truncated: bool | None = None

    @property
    def count(self) -> int:
        return len(self.cases)


# --- Choosing what goes ------------------------------------------------------------------


def retention_days() -> int:
    days = settings().retention_days
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        # A zero or negative period would shred every closed case at once.
        raise ValueError(f"RETENTION_DAYS must be a whole number of days of at least 1, not {days!r}")
    return days


def cutoff(now: datetime) -> datetime:
    """Cases closed before this moment are due for purging."""
    return now - timedelta(days=retention_days())


def is_due(case: Case, now: datetime) -> bool:
    return (
        case.status == workflow.CLOSED
        and case.closed_at is not None
        and case.closed_at < cutoff(now)
        and case.purged_at is None
    )


def purge_candidates(now: datetime) -> list[Case]:
    """Closed cases whose ``closed_at`` is older than ``RETENTION_DAYS`` and that are not purged yet, oldest first."""
    return list(
        db.session.scalars(
            select(Case)
            .where(
                Case.status == workflow.CLOSED,
                Case.closed_at.is_not(None),
                Case.closed_at < cutoff(now),
                Case.purged_at.is_(None),
            )
            .order_by(Case.closed_at, Case.id)
        )
    )


# --- Purging ---------------------------------------------------------------------------------


def purge(cases: Sequence[Case], dry_run: bool, now: datetime | None = None) -> PurgeResult:
    """Crypto-shreds ``cases`` in one transaction, audited, or with ``dry_run`` only says what would go.

    Every case must still be due (closed, past the retention period, not purged), else ``ValueError`` and nothing
    changes. If another request changes one of them meanwhile (the version column), ``PurgeConflict`` and nothing
    changes. A real run is audited even when there is nothing to purge, so the audit log shows retention ran.
    """
    now = now or clock.utcnow()
    not_due = [case.reference for case in cases if not is_due(case, now)]
    if not_due:
        raise ValueError("not due for purging: " + ", ".join(not_due))
    closed = [PurgedCase(case.id, case.reference, cast(datetime, case.closed_at)) for case in cases]  # due: closed
    result = PurgeResult(closed, dry_run=dry_run)
    if dry_run:
        return result

    sqlite = _dialect() == "sqlite"
    try:
        _shred(cases, now, sqlite)
        transactions.commit_apart()  # before the SQLite log is truncated, so the shredded bytes leave the file
    except StaleDataError as exc:
        db.session.rollback()
        raise PurgeConflict("a case changed while it was being purged (run the purge again)") from exc
    except Exception:
        db.session.rollback()
        raise
    if sqlite:
        result.wal_truncated = _truncate_wal()
    return result


def _shred(cases: Sequence[Case], now: datetime, sqlite: bool) -> None:
    if sqlite:
        # Also set on connect (speakup/platform/sqlite.py); set here too so a purge never depends on that alone.
        db.session.execute(text("PRAGMA secure_delete=ON"))
    for case in cases:
        _shred_case_row(case, now)
    # The case rows first: the version check fails here, before anything is deleted, if a case changed.
    db.session.flush()
    ids = [case.id for case in cases]
    for chunk in _chunks(ids):
        for model in (
            CaseGrant,
            Message,
            CaseNote,
            Attachment,
            ReporterSession,
            CaseExclusion,
            ShareRequest,
            DeadlineExtension,
        ):
            db.session.execute(delete(model).where(model.case_id.in_(chunk)))
    for case in cases:
        audit.record(audit.Action.CASES_PURGED, audit.Actor.SYSTEM, case_id=case.id)
    audit.record(audit.Action.CASES_PURGED, audit.Actor.SYSTEM, count=len(ids))


def _shred_case_row(case: Case, now: datetime) -> None:
    case.concern_ct = None
    case.identity_ct = None
    case.language_ct = None
    case.learning_ct = None
    case.referral_ct = None
    case.exclusions_ct = None
    # The learning is gone with the key, so nothing should go looking for it to share with the board.
    case.learning_shareable = False
    case.access_lookup_id = PURGED_LOOKUP_PREFIX + secrets.token_hex(28)
    case.purged_at = now


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _dialect() -> str:
    return db.session.get_bind(mapper=Case.__mapper__).dialect.name


def _truncate_wal() -> bool | None:
    """In WAL mode, copies the WAL into the database and truncates it to zero bytes, so the page images from before
    the purge (still holding the ciphertext and grants) do not stay in the ``-wal`` file. None when not in WAL
    mode; False when a reader kept the checkpoint from finishing (the next checkpoint will)."""
    engine = cast(Engine, db.session.get_bind(mapper=Case.__mapper__))  # the session is bound to an engine
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        mode = connection.execute(text("PRAGMA journal_mode")).scalar()
        if str(mode).lower() != "wal":
            return None
        busy, _log_frames, _checkpointed = connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)")).one()
        return int(busy) == 0
