"""A roster checkpoint taken through the command line, as an operator takes one: `roster accept` after an alarm, or
`rotate-recovery-key`. Either starts the log's replay afresh, so a test of what must survive it (a spent link, a
replaced access code) takes one here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from speakup.keys import recovery, roster


def recovery_key_file(app: Flask, folder: Path) -> Path:
    """The organisation's recovery key file, as `speakup init` wrote it, in ``folder``."""
    key_file = folder / "recovery.key"
    key_file.write_text(
        recovery.encode_recovery_file(app.config["TEST_RECOVERY_PRIVATE_KEY"], app.config["TEST_ROSTER_SIGNING_KEY"])
    )
    return key_file


def take_checkpoint(app: Flask, runner: Any, folder: Path, command: str, *accept_options: str) -> None:
    """Runs ``command`` ("roster accept", with ``accept_options`` such as ``--keep EMAIL``, or "rotate-recovery-key"
    with its audit anchor), its files in ``folder``; fails the test unless it succeeds and the roster then verifies."""
    key_file = recovery_key_file(app, folder)
    if command == "roster accept":
        args = ["roster", "accept", "--recovery-key-file", str(key_file), *accept_options]
    else:
        anchors = folder / "audit-anchors"
        assert runner.invoke(args=["speakup", "audit", "anchor", "--file", str(anchors)]).exit_code == 0
        args = ["rotate-recovery-key", "--recovery-key-file", str(key_file), "--new-recovery-key-file",
                str(folder / "new.key"), "--audit-anchor-file", str(anchors)]  # fmt: skip
    done = runner.invoke(args=["speakup", *args])
    assert done.exit_code == 0, done.output
    with app.app_context():
        assert roster.verify_roster().problem is None
