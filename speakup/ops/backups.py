"""The service's own nightly backups: `speakup backups run` (the speakup-backup timer) copies the database into
BACKUP_FOLDER, 0600, keeps BACKUP_KEEP_DAYS of copies, and /healthz fails with "backup" when the newest is older than
BACKUP_MAX_AGE_HOURS. SQLite is copied page by page while the service runs; PostgreSQL with pg_dump (its custom
format, restored with pg_restore). A copy holds only ciphertext, wrapped keys and public keys, and is as sensitive
as the database: keep another copy off this host (docs/deploy.md, section 11).
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import URL

from speakup.platform import private_files

# speakup-2026-12-07T013000Z.sqlite or .dump: what the folder's own copies are called (nothing else is pruned).
_NAME = re.compile(r"speakup-\d{4}-\d\d-\d\dT\d{6}Z\.(sqlite|dump)")


class BackupFailed(Exception):
    """The copy could not be made; the message says why, with nothing from the database in it."""


def make(folder: Path, url: URL, now: datetime) -> Path:
    """A new copy of the database at ``url`` in ``folder``, mode 0600; returns its path."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    # The service's own: nobody else lists what is in it (unless made by someone else, root, who chose its mode).
    with contextlib.suppress(PermissionError):
        folder.chmod(0o700)
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupFailed(f"cannot back up a {backend} database")
    target = folder / f"speakup-{now.strftime('%Y-%m-%dT%H%M%SZ')}.{'sqlite' if backend == 'sqlite' else 'dump'}"
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise BackupFailed("the database is in memory: there is nothing on disk to back up")
        backup_sqlite(url.database, target)
    else:
        _pg_dump(url, target)
    return target


def is_stale(folder: Path, max_age_hours: int, now: datetime) -> bool:
    """Whether the newest copy is older than ``max_age_hours`` (or there is none)."""
    written = newest(folder)
    return written is None or now - written > timedelta(hours=max_age_hours)


def prune(folder: Path, keep_days: int, now: datetime) -> list[Path]:
    """Removes the files named as the folder's own copies older than ``keep_days`` (a damaged one too), never the
    newest real copy; returns what it removed."""
    copies = sorted(_copies(folder), key=lambda path: path.stat().st_mtime)
    cutoff = (now - timedelta(days=keep_days)).timestamp()
    old = [path for path in _named(folder) if path.stat().st_mtime < cutoff and path not in copies[-1:]]
    for path in old:
        path.unlink()
    return old


def newest(folder: Path) -> datetime | None:
    """When the newest copy in ``folder`` was written (UTC, naive like the service's clock); None if there is none."""
    times = [path.stat().st_mtime for path in _copies(folder)]
    return datetime.fromtimestamp(max(times), UTC).replace(tzinfo=None) if times else None


def _named(folder: Path) -> list[Path]:
    try:
        return [path for path in folder.iterdir() if _NAME.fullmatch(path.name) and path.is_file()]
    except FileNotFoundError:
        return []


def _copies(folder: Path) -> list[Path]:
    return [path for path in _named(folder) if _is_a_copy(path)]


# How each kind of copy begins: pg_dump's custom format, and every SQLite database file.
_MAGIC = {".dump": b"PGDMP", ".sqlite": b"SQLite format 3\x00"}


def _is_a_copy(path: Path) -> bool:
    """Whether ``path`` is a file that begins as a copy of its kind does. An empty file, a byte, or anything else put
    in its place (a dump that failed half way, one touched into being) is no copy and never counts as last night's."""
    magic = _MAGIC.get(path.suffix)
    if magic is None:
        return False
    try:
        with path.open("rb") as handle:
            return handle.read(len(magic)) == magic
    except OSError:
        return False


def backup_sqlite(database: str, target: Path) -> int:
    """Copies a live SQLite database page by page (readers and writers carry on). Returns the copy's page count."""
    # Created 0600 and exclusively, so nothing is overwritten and the copy is never readable by others.
    os.close(private_files.open_private(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    try:
        source = sqlite3.connect(database)
        try:
            copy = sqlite3.connect(target)
            try:
                source.backup(copy)
                copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
                result = copy.execute("PRAGMA integrity_check").fetchone()[0]
                if result != "ok":
                    raise BackupFailed(f"the copy failed its integrity check: {result}")
                pages = copy.execute("PRAGMA page_count").fetchone()[0]
            finally:
                copy.close()
        finally:
            source.close()
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return int(pages)


def _pg_dump(url: URL, target: Path) -> None:
    # pg_dump reads libpq's URL, without SQLAlchemy's driver name; the password (if any) goes in its environment.
    plain = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    env = {**os.environ, **({"PGPASSWORD": url.password} if url.password else {})}
    os.close(private_files.open_private(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    try:
        done = subprocess.run(  # noqa: S603 - a fixed program and arguments, no shell
            ["pg_dump", "--format=custom", f"--file={target}", f"--dbname={plain}"],  # noqa: S607 - pg_dump on PATH
            env=env,
            capture_output=True,
            timeout=3600,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        target.unlink(missing_ok=True)
        raise BackupFailed(f"pg_dump could not run ({type(error).__name__}): is postgresql-client installed?") from None
    if done.returncode != 0:
        target.unlink(missing_ok=True)
        raise BackupFailed(f"pg_dump failed with exit status {done.returncode}")
