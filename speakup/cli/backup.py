"""`flask speakup backup PATH`: an online copy of a SQLite database (PostgreSQL: use pg_dump).

The copy holds everything the service stores: encrypted case text, wrapped keys, accounts and the audit chain.
It is useless without SPEAKUP_TOKEN_PEPPER and the staff's passwords, and as sensitive as the database itself.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import click
from flask.cli import with_appcontext

from speakup.platform import private_files
from speakup.platform.models import db

PG_DUMP_HINT = (
    "This database is PostgreSQL: back it up with pg_dump, for example\n"
    '  (umask 077; pg_dump --format=custom --file=speakup.dump "$SPEAKUP_SQLALCHEMY_DATABASE_URI")\n'
    "and restore with pg_restore --dbname=<new database> speakup.dump. See the README."
)


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
                    raise click.ClickException(f"the copy failed its integrity check: {result}")
                pages = copy.execute("PRAGMA page_count").fetchone()[0]
            finally:
                copy.close()
        finally:
            source.close()
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return pages


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
        pages = backup_sqlite(database, path)
    except FileExistsError:
        raise click.ClickException(f"{path} already exists; refusing to overwrite it.") from None
    except sqlite3.Error as exc:
        raise click.ClickException(f"backup failed ({type(exc).__name__}); nothing was written.") from None
    click.echo(f"Backed up the database to {path} ({pages} pages, mode 0600). Store it as carefully as the database.")
