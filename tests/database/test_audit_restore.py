"""A restore from a backup, as a drill (issue 27, point 4): the chain goes back to the backup's head, so the anchors
written since are not reached and `audit verify` fails, every day, until the restore is accepted with the
organisation key; after that, verify is as strict as before. A restore line nobody signed retires nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from support.factories import gen_concern
from support.present import scalar

from speakup.crypto import signing
from speakup.keys import recovery
from speakup.ops import audit_anchors
from speakup.platform import clock
from speakup.platform.models import AuditEvent, db


def _run(runner, *args: str) -> tuple[int, str]:
    result = runner.invoke(args=["speakup", "audit", *args])
    return result.exit_code, result.output


def _head(app: Flask) -> int:
    with app.app_context():
        return scalar(select(func.max(AuditEvent.id)))


def _restore_to(app: Flask, head: int) -> None:
    """What restoring last night's dump does to the chain: every event after its head is gone."""
    with app.app_context():
        db.session.execute(text("DELETE FROM audit_events WHERE id > :head"), {"head": head})
        db.session.commit()


def _key_file(app: Flask, tmp_path: Path, signing_key: bytes | None = None) -> Path:
    path = tmp_path / "recovery-key.txt"
    signing_key = signing_key or app.config["TEST_ROSTER_SIGNING_KEY"]
    path.write_text(recovery.encode_recovery_file(app.config["TEST_RECOVERY_PRIVATE_KEY"], signing_key))
    return path


def test_a_restore_accepted_with_the_organisation_key_keeps_verify_meaningful(app, client, runner, tmp_path):
    anchors = tmp_path / "audit-anchors"
    gen_concern(client)
    assert _run(runner, "anchor", "--file", str(anchors))[0] == 0
    backup_head = _head(app)  # the nightly dump
    gen_concern(client)
    assert _run(runner, "anchor", "--file", str(anchors))[0] == 0
    _restore_to(app, backup_head)
    code, said = _run(runner, "verify", "--anchor", str(anchors))
    assert code == 1 and "no longer reaches anchored event" in said

    code, said = _run(
        runner, "accept-restore", "--file", str(anchors), "--recovery-key-file", str(_key_file(app, tmp_path))
    )
    assert code == 0 and said.startswith(f"restored {backup_head} "), said
    code, said = _run(runner, "verify", "--anchor", str(anchors))
    assert code == 0 and "Audit chain intact" in said, said

    gen_concern(client)  # the service carries on, and is anchored again
    assert _run(runner, "anchor", "--file", str(anchors))[0] == 0
    assert _run(runner, "verify", "--anchor", str(anchors))[0] == 0
    _restore_to(app, _head(app) - 1)  # newest events deleted after the accepted restore: caught as before
    assert _run(runner, "verify", "--anchor", str(anchors))[0] == 1


def test_a_restore_line_not_signed_by_the_organisation_key_retires_nothing(app, client, runner, tmp_path):
    anchors = tmp_path / "audit-anchors"
    gen_concern(client)
    backup_head = _head(app)
    gen_concern(client)
    assert _run(runner, "anchor", "--file", str(anchors))[0] == 0
    _restore_to(app, backup_head)
    with app.app_context():
        head_hash = scalar(select(AuditEvent.hash).where(AuditEvent.id == backup_head))
    # Someone who can write the anchor file and the database, without the organisation key.
    own_key = signing.generate_signing_keypair().private_bytes
    when = "2026-12-07T00:00:00Z"
    statement = audit_anchors.restore_statement(backup_head, head_hash, when)
    forged = signing.sign(own_key, audit_anchors.RESTORE_CONTEXT, statement)
    check = type("Check", (), {"last_id": backup_head, "last_hash": head_hash})()
    with anchors.open("a") as handle:
        handle.write(audit_anchors.restore_line(check, when, forged) + "\n")
    code, said = _run(runner, "verify", "--anchor", str(anchors))
    assert code == 1 and "is not signed by the organisation key" in said and "no longer reaches" in said
    # Nor will the command sign with a key that is not this installation's.
    other = _key_file(app, tmp_path, signing_key=own_key)
    code, said = _run(runner, "accept-restore", "--file", str(anchors), "--recovery-key-file", str(other))
    assert code != 0 and "not this installation's" in said


def test_a_signed_restore_line_copied_to_the_end_of_the_file_retires_nothing_newer_than_itself(
    app, client, runner, tmp_path
):
    """Outside review of issue 27, finding 7: a genuine restore line, copied below the anchors written after it,
    retired them, so events deleted since passed verification. A restore line retires only what is older than it."""
    anchors = tmp_path / "audit-anchors"
    gen_concern(client)
    assert _run(runner, "anchor", "--file", str(anchors))[0] == 0
    backup_head = _head(app)
    _restore_to(app, backup_head)
    code, _said = _run(
        runner, "accept-restore", "--file", str(anchors), "--recovery-key-file", str(_key_file(app, tmp_path))
    )
    assert code == 0
    genuine = anchors.read_text().splitlines()[-1]
    assert genuine.startswith("restored ")
    clock.advance(timedelta(minutes=5))  # the timer anchors again later
    gen_concern(client)
    gen_concern(client)
    assert _run(runner, "anchor", "--file", str(anchors))[0] == 0
    _restore_to(app, backup_head)  # someone deletes what came after the restore...
    with anchors.open("a") as handle:
        handle.write(genuine + "\n")  # ...and copies the genuine restore line to the end
    code, said = _run(runner, "verify", "--anchor", str(anchors))
    assert code == 1 and "no longer reaches anchored event" in said, said


@pytest.fixture(autouse=True)
def _clock_as_is():
    yield
    clock.reset()
