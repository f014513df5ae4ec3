"""Rotating the recovery key (issue 27, point 6): `speakup rotate-recovery-key` re-wraps every case for a new key,
signs it into the roster with the organisation key, and writes the new key file; then the full journey still works
(a new concern, a guardian reading it, the reporter following up with the code given before), the new file opens
every case, old and new, and the old file opens nothing written since and is refused (both its keys are
retired: tests/database/test_recovery_rotation_restore.py)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from support.factories import gen_concern
from support.html import following_up
from support.present import scalar

from speakup.crypto import kem
from speakup.keys import recovery, roster
from speakup.platform.models import Case, db


def _key_file(app: Flask, path: Path) -> Path:
    keys = recovery.encode_recovery_file(app.config["TEST_RECOVERY_PRIVATE_KEY"], app.config["TEST_ROSTER_SIGNING_KEY"])
    path.write_text(keys)
    return path


def _opens_every_case(private_key: bytes) -> bool:
    cases = db.session.scalars(select(Case)).all()
    try:
        return all(recovery.recovery_case_key(case, private_key) for case in cases)
    except Exception:  # any failure to open is the answer
        return False


def _anchors(runner, tmp_path: Path) -> Path:
    anchors = tmp_path / "audit-anchors"
    assert runner.invoke(args=["speakup", "audit", "anchor", "--file", str(anchors)]).exit_code == 0
    return anchors


def test_a_rotated_recovery_key_opens_every_case_and_the_journey_goes_on(
    app, client, runner, guardian, signed, tmp_path
):
    before = gen_concern(client, what_happened="Zebra-7101 raised before the rotation")
    old_file = _key_file(app, tmp_path / "old-key.txt")
    new_file = tmp_path / "new-key.txt"
    rotated = runner.invoke(
        args=["speakup", "rotate-recovery-key", "--recovery-key-file", str(old_file),
              "--new-recovery-key-file", str(new_file), "--audit-anchor-file", str(_anchors(runner, tmp_path))]
    )  # fmt: skip
    assert rotated.exit_code == 0, rotated.output
    assert "Re-wrapped 1 cases" in rotated.output and stat.S_IMODE(new_file.stat().st_mode) == 0o600
    after = gen_concern(client, what_happened="Zebra-7102 raised after the rotation")

    with app.app_context():
        assert roster.verify_roster().problem is None
        new = recovery.read_recovery_file(new_file.read_text())
        assert new.signing_key != app.config["TEST_ROSTER_SIGNING_KEY"]  # the whole old file is retired
        assert _opens_every_case(new.recovery_key)
        assert not _opens_every_case(app.config["TEST_RECOVERY_PRIVATE_KEY"])
        with pytest.raises(recovery.WrongRecoveryKey, match="another installation"):
            recovery.read_recovery_file(old_file.read_text())
        assert kem.public_key_of(new.recovery_key) == recovery.recovery_public_key()
        reference = scalar(select(Case.reference).where(Case.reference == after["reference"]))

    # The journey: the guardian reads the new concern, the reporter follows up the old one with its code.
    assert "Zebra-7102 raised after the rotation" in signed.get(f"/guardian/cases/{reference}").get_data(as_text=True)
    page = following_up(app, before["access_code"]).get("/follow-up/case").get_data(as_text=True)
    assert "Zebra-7101 raised before the rotation" in page
    recovered = runner.invoke(args=["speakup", "recover", "--recovery-key-file", str(new_file), "--to", guardian.email])
    assert recovered.exit_code == 0 and "(2 already held" in recovered.output, recovered.output


def test_the_rotation_refuses_to_write_over_a_file_and_changes_nothing(app, client, runner, tmp_path):
    gen_concern(client)
    old_file = _key_file(app, tmp_path / "old-key.txt")
    taken = tmp_path / "taken.txt"
    taken.write_text("something else")
    refused = runner.invoke(
        args=["speakup", "rotate-recovery-key", "--recovery-key-file", str(old_file),
              "--new-recovery-key-file", str(taken), "--audit-anchor-file", str(_anchors(runner, tmp_path))]
    )  # fmt: skip
    assert refused.exit_code != 0 and "already exists" in refused.output
    with app.app_context():
        assert _opens_every_case(app.config["TEST_RECOVERY_PRIVATE_KEY"])
