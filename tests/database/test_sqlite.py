"""How SQLite connections are opened (speakup/platform/sqlite.py): secure delete, WAL, every commit synced."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text
from support.apps import TEST_CONFIG

from speakup import ConfigurationError, create_app
from speakup.platform.models import db
from speakup.platform.sqlite import _on_connect, configure_sqlite

FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def pragmas(connection) -> tuple[int, str, int]:
    return tuple(
        connection.execute(text(f"PRAGMA {name}")).scalar() for name in ("secure_delete", "journal_mode", "synchronous")
    )


def test_every_sqlite_connection_deletes_securely_in_wal_and_syncs_each_commit(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":  # PostgreSQL connections are left as they are
            assert not event.contains(db.engine, "connect", _on_connect(app.config["SQLITE_JOURNAL_MODE"]))
            return
        db.engine.dispose()  # new connections, so the listener is what is tested
        for _ in range(2):
            with db.engine.connect() as connection:
                assert pragmas(connection) == (1, "wal", FULL)


def test_the_file_itself_is_left_in_wal_mode(tmp_path: Path):
    path = tmp_path / "speakup.sqlite"
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    with app.app_context():
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        db.engine.dispose()
    plain = sqlite3.connect(path)  # a process without Speak Up's settings: the mode is stored in the file
    try:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        plain.close()


def test_a_rollback_journal_can_be_chosen_and_is_still_synced(tmp_path: Path):
    app = create_app(
        {
            **TEST_CONFIG,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'd.sqlite'}",
            "SQLITE_JOURNAL_MODE": "DELETE",
        }
    )
    with app.app_context(), db.engine.connect() as connection:
        assert pragmas(connection) == (1, "delete", FULL)


def test_an_unknown_journal_mode_stops_the_app_with_a_clear_message(tmp_path: Path):
    with pytest.raises(ConfigurationError, match="SPEAKUP_SQLITE_JOURNAL_MODE must be one of wal, delete"):
        create_app(
            {
                **TEST_CONFIG,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'd.sqlite'}",
                "SQLITE_JOURNAL_MODE": "off",
            }
        )


def test_configure_sqlite_does_not_rely_on_the_build_defaults(tmp_path: Path):
    engine = create_engine(f"sqlite:///{tmp_path / 'plain.sqlite'}")

    @event.listens_for(engine, "connect")
    def _build_defaults_off(dbapi_connection, _record):  # as on builds without SQLITE_SECURE_DELETE
        dbapi_connection.execute("PRAGMA secure_delete=OFF")
        dbapi_connection.execute("PRAGMA synchronous=OFF")

    with engine.connect() as connection:
        assert pragmas(connection) == (0, "delete", 0)
    engine.dispose()
    configure_sqlite(engine)
    configure_sqlite(engine)  # twice adds nothing
    with engine.connect() as connection:
        assert pragmas(connection) == (1, "wal", FULL)
    engine.dispose()


def test_an_in_memory_database_is_left_as_it_is():
    engine = create_engine("sqlite://")
    configure_sqlite(engine)
    with engine.connect() as connection:
        assert pragmas(connection)[:2] == (1, "memory")
