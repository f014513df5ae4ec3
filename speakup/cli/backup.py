"""`flask speakup backup PATH`: an online copy of a SQLite database (PostgreSQL: use pg_dump).

The copy holds everything the service stores: encrypted case text, wrapped keys, accounts and the audit chain.
It is useless without SPEAKUP_TOKEN_PEPPER and the staff's passwords, and as sensitive as the database itself.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from pathlib import Path

import click
from flask.cli import AppGroup, with_appcontext

from speakup.ops import backups
from speakup.platform import clock
from speakup.platform.config import settings
from speakup.platform.models import db

logger = logging.getLogger(__name__)

PG_DUMP_HINT = (
    "This database is PostgreSQL: back it up with pg_dump, for example\n"
    '  (umask 077; pg_dump --format=custom --file=speakup.dump "$SPEAKUP_SQLALCHEMY_DATABASE_URI")\n'
    "and restore with pg_restore --dbname=<new database> speakup.dump. See the README."
)


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(path: Path) -> None:
    """Copy the SQLite database to PATH while the service runs (mode 0600; never overwrites).
    For PostgreSQL, use pg_dump."""
    url = db.engine.url
    if url.get_backend_name() == "postgresql":
        raise click.ClickException(PG_DUMP_HINT)
    if url.get_backend_name() != "sqlite":
        raise click.ClickException(f"backup supports SQLite only; use your database's own tools for {url.drivername}.")
    database = url.database
    if not database or database == ":memory:":
        raise click.ClickException("the database is in memory; there is nothing on disk to back up.")
    if path.exists():
        raise click.ClickException(f"{path} already exists; refusing to overwrite it.")
    if Path(database).resolve() == path.resolve():
        raise click.ClickException("the backup cannot be the database itself.")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        pages = backups.backup_sqlite(database, path)
    except FileExistsError:
        raise click.ClickException(f"{path} already exists; refusing to overwrite it.") from None
    except backups.BackupFailed as failed:
        raise click.ClickException(str(failed)) from None
    except sqlite3.Error as exc:
        raise click.ClickException(f"backup failed ({type(exc).__name__}); nothing was written.") from None
    click.echo(f"Backed up the database to {path} ({pages} pages, mode 0600). Store it as carefully as the database.")


backups_cli = AppGroup("backups", help="The service's own nightly copies of the database (BACKUP_FOLDER).")


@backups_cli.command("run")
@with_appcontext
def backups_run_command() -> None:
    """Copy the database into BACKUP_FOLDER (mode 0600) and remove the folder's copies older than BACKUP_KEEP_DAYS.
    Exits 1, saying why, if the copy could not be made."""
    configured = settings().backups
    if configured.folder is None:
        raise click.ClickException("SPEAKUP_BACKUP_FOLDER is not set: nowhere to write the copy.")
    now = clock.utcnow()
    try:
        made = backups.make(configured.folder, db.engine.url, now)
    except (backups.BackupFailed, sqlite3.Error, OSError) as failed:
        message = str(failed) if isinstance(failed, backups.BackupFailed) else type(failed).__name__
        # At ERROR at once (docs/deploy.md, "What to alert on"), not only when the check finds the copy old.
        logger.error("Backup failed: %s", message)
        raise click.ClickException(f"Backup failed: {message}; nothing was written.") from None
    removed = backups.prune(configured.folder, configured.keep_days, now)
    click.echo(f"Backed up the database to {made} (mode 0600); removed {len(removed)} copies older than "
               f"{configured.keep_days} days.")  # fmt: skip


@backups_cli.command("check")
@with_appcontext
def backups_check_command() -> None:
    """Exit 0 if the newest copy in BACKUP_FOLDER is younger than BACKUP_MAX_AGE_HOURS, 1 otherwise."""
    configured = settings().backups
    if configured.folder is None:
        raise click.ClickException("SPEAKUP_BACKUP_FOLDER is not set.")
    written = backups.newest(configured.folder)
    if backups.is_stale(configured.folder, configured.max_age_hours, clock.utcnow()):
        click.echo(f"No backup in the last {configured.max_age_hours} hours (newest: {written or 'none'} UTC)")
        sys.exit(1)
    click.echo(f"Newest backup written {written} UTC")
