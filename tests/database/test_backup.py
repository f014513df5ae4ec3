"""Backup and restore: a copy taken while the service runs brings every case back.

SQLite: `flask speakup backup PATH` (the online backup API). PostgreSQL: the command points at pg_dump, and the
test dumps the test database with pg_dump and restores it with pg_restore into a database of its own. After the
restore a guardian signs in and reads the case, the reporter's access code opens it, and the audit chain verifies.
"""

from __future__ import annotations

import html
import os
import shutil
import sqlite3
import stat
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from support.apps import POSTGRES_URL, TEST_CONFIG
from support.factories import Staff, gen_concern, gen_staff
from support.html import CSRF_RE, VERSION_RE, AuthActions, post_form
from support.present import found

from speakup import create_app
from speakup.platform.models import db

HAS_PG_TOOLS = bool(shutil.which("pg_dump") and shutil.which("pg_restore"))


@dataclass
class Journey:
    guardian: Staff
    reference: str
    access_code: str
    what_happened: str
    guardian_message: str


def _journey(app: Flask) -> Journey:
    guardian = gen_staff(app, email=f"backup-{uuid.uuid4().hex[:8]}@example.org")
    client = app.test_client()
    what = f"backup-what-{uuid.uuid4().hex}"
    raised = gen_concern(client, what_happened=what)
    signed = app.test_client()
    assert AuthActions(signed).sign_in(guardian).status_code == 303
    message = f"backup-guardian-message-{uuid.uuid4().hex}"
    case_url = f"/guardian/cases/{raised['reference']}"
    page = signed.get(case_url).get_data(as_text=True)
    form = {"csrf_token": found(CSRF_RE, page), "version": found(VERSION_RE, page), "body": message}
    sent = signed.post(f"{case_url}/messages", data=form)
    assert sent.status_code == 303, sent.status_code
    assert message in signed.get(sent.location).get_data(as_text=True)  # sent, not refused
    return Journey(guardian, raised["reference"], raised["access_code"], what, message)


@pytest.fixture
def restored_apps() -> Iterator[list[Flask]]:
    apps: list[Flask] = []
    yield apps
    for restored in apps:
        with restored.app_context():
            db.session.remove()
            db.engine.dispose()


def _check_restored(restored: Flask, journey: Journey) -> None:
    # The guardian signs in and reads the case.
    guardian = restored.test_client()
    assert AuthActions(guardian).sign_in(journey.guardian).status_code == 303
    page = guardian.get(f"/guardian/cases/{journey.reference}")
    assert page.status_code == 200
    shown = html.unescape(page.get_data(as_text=True))
    assert journey.what_happened in shown and journey.guardian_message in shown

    # The reporter's access code opens the case, by API and on the pages.
    reporter = restored.test_client()
    back = reporter.get("/api/v1/follow-up", headers={"Authorization": f"Bearer {journey.access_code}"})
    assert back.status_code == 200, back.get_json()
    assert back.get_json()["reference"] == journey.reference
    assert ("guardian", journey.guardian_message) in [(m["author"], m["body"]) for m in back.get_json()["messages"]]
    assert post_form(reporter, "/follow-up", access_code=journey.access_code).status_code == 303
    assert journey.what_happened in html.unescape(reporter.get("/follow-up/case").get_data(as_text=True))

    # The audit chain verifies.
    result = restored.test_cli_runner().invoke(args=["speakup", "audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "Audit chain intact" in result.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_backup_restores_cases_codes_and_audit_chain(
    app: Flask, runner, tmp_path: Path, restored_apps: list[Flask]
) -> None:
    journey = _journey(app)
    backup = tmp_path / "backups" / "speakup-backup.sqlite"

    result = runner.invoke(args=["speakup", "backup", str(backup)])
    assert result.exit_code == 0, result.output
    assert "Backed up" in result.output
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert [p.name for p in backup.parent.iterdir()] == [backup.name], "the copy is one file, no -wal or -journal"
    with sqlite3.connect(backup) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()

    # Never overwrites.
    before = backup.read_bytes()
    again = runner.invoke(args=["speakup", "backup", str(backup)])
    assert again.exit_code != 0 and "refusing to overwrite" in again.output
    assert backup.read_bytes() == before

    # What happens after the backup is not in it.
    later = gen_concern(app.test_client(), what_happened="raised after the backup")

    # Restore: the copy put in place of a lost database, opened by a fresh app.
    restored_path = tmp_path / "restored" / "speakup.sqlite"
    restored_path.parent.mkdir()
    shutil.copyfile(backup, restored_path)
    restored = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{restored_path}"})
    restored_apps.append(restored)
    _check_restored(restored, journey)
    bearer = {"Authorization": f"Bearer {later['access_code']}"}
    missing = restored.test_client().get("/api/v1/follow-up", headers=bearer)
    assert missing.status_code == 401


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_backup_refuses_an_existing_file_and_an_in_memory_database(app: Flask, runner, tmp_path: Path) -> None:
    existing = tmp_path / "precious.txt"
    existing.write_text("keep me")
    result = runner.invoke(args=["speakup", "backup", str(existing)])
    assert result.exit_code != 0 and "refusing to overwrite" in result.output
    assert existing.read_text() == "keep me"

    memory = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    result = memory.test_cli_runner().invoke(args=["speakup", "backup", str(tmp_path / "memory.sqlite")])
    assert result.exit_code != 0 and "in memory" in result.output
    assert not (tmp_path / "memory.sqlite").exists()


# --- PostgreSQL: pg_dump and pg_restore ------------------------------------------------------------


@pytest.fixture
def restore_database_url() -> Iterator[str]:
    assert POSTGRES_URL
    url = make_url(POSTGRES_URL)
    target = url.set(database=f"{url.database}_restore")
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = target.database

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    drop()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield target.render_as_string(hide_password=False)
    finally:
        drop()
        admin.dispose()


def _libpq_url(url: str) -> str:
    """pg_dump and pg_restore take a libpq URI, without SQLAlchemy's driver suffix."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.mark.skipif(not POSTGRES_URL, reason="SPEAKUP_TEST_DATABASE_URL is not set")
@pytest.mark.skipif(not HAS_PG_TOOLS, reason="pg_dump and pg_restore are not installed")
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_pg_dump_and_pg_restore_bring_every_case_back(
    app: Flask, runner, tmp_path: Path, restore_database_url: str, restored_apps: list[Flask]
) -> None:
    journey = _journey(app)

    # The backup command does not pretend: it points at pg_dump and writes nothing.
    result = runner.invoke(args=["speakup", "backup", str(tmp_path / "nothing.sqlite")])
    assert result.exit_code != 0 and "pg_dump" in result.output
    assert not (tmp_path / "nothing.sqlite").exists()

    assert POSTGRES_URL
    dump = tmp_path / "speakup.dump"
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", _libpq_url(POSTGRES_URL)],
        check=True,
        env=env,
        timeout=120,
    )
    subprocess.run(
        ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={_libpq_url(restore_database_url)}", str(dump)],
        check=True,
        env=env,
        timeout=120,
    )

    restored = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": restore_database_url})
    restored_apps.append(restored)
    _check_restored(restored, journey)
