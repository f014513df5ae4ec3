"""The service's own nightly backups (issue 27, point 7): `speakup backups run` writes a 0600 copy into
BACKUP_FOLDER and keeps BACKUP_KEEP_DAYS of them; `backups check` and /healthz say when the newest is too old; the
copy restores (SQLite here; PostgreSQL's pg_dump in the same test with SPEAKUP_TEST_DATABASE_URL)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from support.factories import gen_concern
from support.html import following_up

from speakup import create_app
from speakup.platform import clock
from speakup.platform.models import db


def _age(path: Path, hours: float) -> None:
    """Makes ``path`` look written ``hours`` before the service's clock says it is now."""
    when = (clock.utcnow() - timedelta(hours=hours)).timestamp() + (clock.timestamp() - clock.utcnow().timestamp())
    os.utime(path, (when, when))


def test_a_nightly_copy_is_private_kept_for_its_days_and_restores(app: Flask, client, runner, tmp_path: Path):
    folder = tmp_path / "backups"
    app.config["BACKUP_FOLDER"] = str(folder)
    raised = gen_concern(client, what_happened="Zebra-6631 the sluice room flooded")
    old = folder / "speakup-2026-11-01T013000Z.sqlite"
    folder.mkdir()
    old.write_bytes(b"an old copy")
    _age(old, 24 * 20)
    unrelated = folder / "notes.txt"
    unrelated.write_text("not a copy: never removed")
    _age(unrelated, 24 * 20)

    done = runner.invoke(args=["speakup", "backups", "run"])
    assert done.exit_code == 0, done.output
    assert "removed 1 copies older than 14 days" in done.output
    [copy] = [p for p in folder.iterdir() if p.suffix in (".sqlite", ".dump")]
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600 and stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0
    assert unrelated.exists() and not old.exists()
    assert runner.invoke(args=["speakup", "backups", "check"]).exit_code == 0

    with app.app_context():
        url = db.engine.url
    if url.get_backend_name() == "sqlite":
        restored = tmp_path / "restored.sqlite"
        shutil.copyfile(copy, restored)
        _opens_in(app, f"sqlite:///{restored}", raised["access_code"])
        return
    name = f"{url.database}_restored"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    _psql(admin, f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}")
    try:
        target = url.set(drivername="postgresql", database=name).render_as_string(hide_password=False)
        subprocess.run(["pg_restore", "--no-owner", f"--dbname={target}", str(copy)], check=True, capture_output=True)
        _opens_in(app, url.set(database=name).render_as_string(hide_password=False), raised["access_code"])
    finally:
        _psql(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _psql(url: str, *statements: str) -> None:
    commands = [arg for statement in statements for arg in ("-c", statement)]
    subprocess.run(["psql", url, "-q", *commands], check=True, capture_output=True)


def _opens_in(app: Flask, uri: str, access_code: str) -> None:
    """The restored copy, served with the same settings, opens the concern with its access code."""
    restored = create_app({**{k: v for k, v in app.config.items() if k.isupper()}, "SQLALCHEMY_DATABASE_URI": uri})
    page = following_up(restored, access_code).get("/follow-up/case").get_data(as_text=True)
    assert "Zebra-6631 the sluice room flooded" in page
    with restored.app_context():
        db.engine.dispose()


def test_a_missed_night_fails_the_check_and_healthz(app: Flask, runner, tmp_path: Path):
    folder = tmp_path / "backups"
    app.config.update(BACKUP_FOLDER=str(folder), BACKUP_MAX_AGE_HOURS=26)
    assert runner.invoke(args=["speakup", "backups", "check"]).exit_code == 1  # none yet
    assert app.test_client().get("/healthz").get_json()["failed"]["backup"].startswith("no backup in the last 26")
    assert runner.invoke(args=["speakup", "backups", "run"]).exit_code == 0
    assert app.test_client().get("/healthz").status_code == 200
    [copy] = list(folder.iterdir())
    _age(copy, 27)
    checked = runner.invoke(args=["speakup", "backups", "check"])
    assert checked.exit_code == 1 and "No backup in the last 26 hours" in checked.output
    assert list(app.test_client().get("/healthz").get_json()["failed"]) == ["backup"]
    assert app.test_client().get("/readyz").status_code == 200  # a missed backup is not a reason to stop serving


def test_without_a_folder_nothing_is_made_and_nothing_is_checked(app: Flask, runner):
    assert app.config["BACKUP_FOLDER"] is None
    refused = runner.invoke(args=["speakup", "backups", "run"])
    assert refused.exit_code != 0 and "SPEAKUP_BACKUP_FOLDER is not set" in refused.output
    assert app.test_client().get("/healthz").status_code == 200


@pytest.fixture(autouse=True)
def _clock_as_is():
    yield
    clock.reset()


def test_an_empty_file_is_not_a_backup(app: Flask, runner, tmp_path: Path):
    """Outside review of issue 27, finding 8: a 0-byte speakup-<time>.dump satisfied `backups check` and /healthz."""
    folder = tmp_path / "backups"
    folder.mkdir(mode=0o700)
    app.config.update(BACKUP_FOLDER=str(folder), BACKUP_MAX_AGE_HOURS=26)
    stamp = clock.utcnow().strftime("%Y-%m-%dT%H%M%SZ")
    for suffix in ("dump", "sqlite"):
        (folder / f"speakup-{stamp}.{suffix}").touch()
    # Nor a byte, nor random bytes (outside review 2, finding 6): a copy begins as its kind does.
    (folder / "speakup-2000-01-01T000000Z.dump").write_bytes(b"x")
    (folder / "speakup-2000-01-02T000000Z.sqlite").write_bytes(os.urandom(4096))
    for path in folder.iterdir():
        _age(path, 0)
    assert runner.invoke(args=["speakup", "backups", "check"]).exit_code == 1
    assert "backup" in app.test_client().get("/healthz").get_json()["failed"]


def test_a_failed_backup_is_an_error_line_at_once(app: Flask, runner, tmp_path: Path, caplog):
    """Not 26 hours later, when the check first notices: an operator alerting on ERROR hears of it that night."""
    import logging

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the folder should be")
    app.config.update(BACKUP_FOLDER=str(blocked / "backups"))
    with caplog.at_level(logging.ERROR, logger="speakup"):
        result = runner.invoke(args=["speakup", "backups", "run"])
    assert result.exit_code != 0
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and errors[0].startswith("Backup failed:"), errors
