"""How Speak Up opens a SQLite database. PostgreSQL needs nothing here.

Every new SQLite connection runs three PRAGMAs:

* ``secure_delete=ON``: a deleted or rewritten row's bytes are overwritten with zeros instead of being left in the
  file's free space, so a purged case's ciphertext and wrapped keys cannot be read back from the file or a copy of
  it (see retention.py). Some builds turn it on by default; this does not rely on that.
* ``journal_mode`` from ``SQLITE_JOURNAL_MODE`` (``wal`` by default): in WAL mode readers never wait for the writer
  (a guardian's queue opens while concerns are being raised) and a commit appends to one log and syncs it once,
  instead of writing, syncing and deleting a rollback journal and then syncing the database. The mode is stored in
  the file, so every process sharing it uses it. WAL needs a local disk: not a network share.
* ``synchronous=FULL``: WAL's common companion ``NORMAL`` can lose the last commits in a power cut. A reporter who
  was shown an access code must find their concern afterwards, so every commit reaches the disk before the answer.
"""

from __future__ import annotations

from functools import cache

from flask import Flask
from sqlalchemy import Engine, event

from speakup.platform.models import db

JOURNAL_MODES = ("wal", "delete", "truncate", "persist")


def configure_sqlite(engine: Engine, journal_mode: str = "wal") -> None:
    """Runs the PRAGMAs above on every new connection of a SQLite ``engine`` (other databases: no-op)."""
    if journal_mode not in JOURNAL_MODES:
        raise ValueError(f"SQLITE_JOURNAL_MODE must be one of {', '.join(JOURNAL_MODES)}, not {journal_mode!r}")
    listener = _on_connect(journal_mode)
    if engine.dialect.name == "sqlite" and not event.contains(engine, "connect", listener):
        event.listen(engine, "connect", listener)


def configure_sqlite_for(app: Flask) -> None:
    """``configure_sqlite`` for each of the app's engines; call it right after ``db.init_app(app)``."""
    with app.app_context():
        for engine in db.engines.values():
            configure_sqlite(engine, app.config["SQLITE_JOURNAL_MODE"])


@cache
def _on_connect(journal_mode: str):  # one listener per mode, so configuring an engine twice adds nothing
    def on_connect(dbapi_connection, _connection_record) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA secure_delete=ON")
            # Read first: the mode lives in the file, and changing it needs a moment alone with the database.
            current = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if current not in (journal_mode, "memory"):  # an in-memory database has no journal file to choose
                cursor.execute(f"PRAGMA journal_mode={journal_mode}")
            cursor.execute("PRAGMA synchronous=FULL")
        finally:
            cursor.close()

    return on_connect
