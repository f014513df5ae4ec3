"""Rotating the organisation signing key, the roster's root of trust (`speakup rotate-organisation-key`).

The old root signs a hand-over naming the new one, the new root signs a checkpoint carrying the roster forward. A
server still pinned to the old root follows the hand-over (and says to change the pin), one pinned to the new root
starts at the new checkpoint; the old key file is refused everywhere the organisation key acts; and no change a
database writer makes to the rows the rotation wrote gets anyone they chose onto the roster."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import delete, select, update
from support.factories import gen_concern, gen_staff, guardians_wrapped_for, organisation_secrets, safety_code_of
from support.html import following_up
from support.present import get_row, present

from speakup.crypto import signing
from speakup.keys import recovery, roster, roster_log
from speakup.platform.models import KeyPurpose, OrganisationKey, RosterEntry, User, db


def _key_file(app: Flask, path: Path) -> Path:
    secrets = organisation_secrets(app)
    path.write_text(recovery.encode_recovery_file(secrets.recovery_key, secrets.signing_key))
    return path


def rotate(runner, old_file: Path, new_file: Path, anchors: Path):
    return runner.invoke(
        args=["speakup", "rotate-organisation-key", "--recovery-key-file", str(old_file),
              "--new-recovery-key-file", str(new_file), "--audit-anchor-file", str(anchors)]
    )  # fmt: skip


def _anchor_audit(runner, anchors: Path) -> None:
    anchored = runner.invoke(args=["speakup", "audit", "anchor", "--file", str(anchors)])
    assert anchored.exit_code == 0, anchored.output


def _audit_verify(runner, anchors: Path):
    return runner.invoke(args=["speakup", "audit", "verify", "--anchor", str(anchors)])


def _new_root(app: Flask, new_file: Path) -> tuple[bytes, str]:
    with app.app_context():
        secrets = recovery.read_recovery_file(new_file.read_text())
    signing_key = present(secrets.signing_key, "the new file's organisation key")
    return signing_key, signing.roster_fingerprint(signing.signing_public_key_of(signing_key))


def _restart_with_pin(app: Flask, fingerprint: str) -> None:
    """What the operator does after the rotation: SPEAKUP_ROSTER_ROOT changed, the service restarted."""
    app.config["ROSTER_ROOT"] = fingerprint
    app.extensions.pop("speakup_roster", None)


def _rotated(app, client, runner, tmp_path) -> tuple[Path, Path, Path, bytes, str]:
    old_file = _key_file(app, tmp_path / "old-key.txt")
    new_file, anchors = tmp_path / "new-key.txt", tmp_path / "audit-anchors"
    gen_concern(client)
    _anchor_audit(runner, anchors)
    rotated = rotate(runner, old_file, new_file, anchors)
    assert rotated.exit_code == 0, rotated.output
    new_key, new_pin = _new_root(app, new_file)
    assert f"SPEAKUP_ROSTER_ROOT={new_pin}" in rotated.output
    return old_file, new_file, anchors, new_key, new_pin


def test_after_a_rotation_the_journey_goes_on_with_either_pin(app, client, runner, guardian, signed, tmp_path, caplog):
    old_pin = app.config["ROSTER_ROOT"]
    before = gen_concern(client, what_happened="Zebra-7201 raised before the rotation")
    _old_file, new_file, anchors, new_key, new_pin = _rotated(app, client, runner, tmp_path)
    assert stat.S_IMODE(new_file.stat().st_mode) == 0o600 and new_pin != old_pin
    with app.app_context():
        assert recovery.organisation_public_key(KeyPurpose.ROSTER) == signing.signing_public_key_of(new_key)
        assert recovery.read_recovery_file(new_file.read_text()).recovery_key == organisation_secrets(app).recovery_key

    # Not restarted yet: still pinned to the old root, the server follows the hand-over, and says to change the pin.
    caplog.set_level(logging.ERROR, logger="speakup")
    verified = runner.invoke(args=["speakup", "roster", "verify"])
    assert verified.exit_code == 0 and "ok      " + guardian.email in verified.output, verified.output
    assert f"set SPEAKUP_ROSTER_ROOT={new_pin}" in verified.output
    assert any(r.getMessage().startswith("Roster root handed over:") and new_pin in r.getMessage()
               for r in caplog.records)  # fmt: skip
    assert _audit_verify(runner, anchors).exit_code == 0, _audit_verify(runner, anchors).output
    during = gen_concern(client, what_happened="Zebra-7202 raised before the restart")
    assert guardians_wrapped_for(app, during["reference"]) == {guardian.id}
    assert "Zebra-7202" in signed.get(f"/guardian/cases/{during['reference']}").get_data(as_text=True)
    # The new file approves, even before the restart (the root in force is the new key).
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian", approved=False)
    with app.app_context():
        code = safety_code_of(get_row(User, bea.id))
    approved = runner.invoke(args=["speakup", "approve", "--email", bea.email, "--recovery-key-file", str(new_file),
                                   "--safety-code", code])  # fmt: skip
    assert approved.exit_code == 0, approved.output

    _restart_with_pin(app, new_pin)
    verified = runner.invoke(args=["speakup", "roster", "verify"])
    assert verified.exit_code == 0 and "2 approved guardians" in verified.output, verified.output
    assert "SPEAKUP_ROSTER_ROOT" not in verified.output
    assert _audit_verify(runner, anchors).exit_code == 0, _audit_verify(runner, anchors).output
    after = gen_concern(client, what_happened="Zebra-7203 raised after the restart")
    assert guardians_wrapped_for(app, after["reference"]) == {guardian.id, bea.id}
    assert "Zebra-7203" in signed.get(f"/guardian/cases/{after['reference']}").get_data(as_text=True)
    # The reporter follows up with a code given before the rotation, and with one given after it.
    assert "Zebra-7201" in following_up(app, before["access_code"]).get("/follow-up/case").get_data(as_text=True)
    assert "Zebra-7203" in following_up(app, after["access_code"]).get("/follow-up/case").get_data(as_text=True)
    # Pinned back to the old root (a server not restarted) it still verifies.
    _restart_with_pin(app, old_pin)
    assert runner.invoke(args=["speakup", "roster", "verify"]).exit_code == 0


def test_the_old_key_file_is_refused_everywhere_the_organisation_key_acts(app, client, runner, guardian, tmp_path):
    old_pin = app.config["ROSTER_ROOT"]
    old_file, _new_file, anchors, _new_key, new_pin = _rotated(app, client, runner, tmp_path)
    pat = gen_staff(app, email="pat@example.org", name="Pat Pending", approved=False)
    with app.app_context():
        code = safety_code_of(get_row(User, pat.id))
    old = str(old_file)
    commands = {
        "approve": ["approve", "--email", pat.email, "--recovery-key-file", old, "--safety-code", code],
        "create-user": ["create-user", "--email", "new@example.org", "--name", "New", "--role", "guardian",
                        "--recovery-key-file", old],
        "roster accept": ["roster", "accept", "--recovery-key-file", old, "--keep", guardian.email],
        "audit accept-restore": ["audit", "accept-restore", "--file", str(anchors), "--recovery-key-file", old],
        "rotate-recovery-key": ["rotate-recovery-key", "--recovery-key-file", old, "--new-recovery-key-file",
                                str(tmp_path / "never-1"), "--audit-anchor-file", str(anchors)],
        "recover": ["recover", "--recovery-key-file", old, "--to", guardian.email],
        "rotate-organisation-key": ["rotate-organisation-key", "--recovery-key-file", old, "--new-recovery-key-file",
                                    str(tmp_path / "never-2"), "--audit-anchor-file", str(anchors)],
    }  # fmt: skip
    for pin in (old_pin, new_pin):
        _restart_with_pin(app, pin)
        for name, args in commands.items():
            with app.app_context():
                head = present(roster_log.head(), "roster head").seq
            refused = runner.invoke(args=["speakup", *args], input="a sufficiently long password\n")
            assert refused.exit_code != 0 and "retired" in refused.output, (name, refused.output)
            with app.app_context():
                assert present(roster_log.head(), "roster head").seq == head, name
                assert db.session.scalar(select(User.id).where(User.email == "new@example.org")) is None
        assert not (tmp_path / "never-1").exists() and not (tmp_path / "never-2").exists()
        assert runner.invoke(args=["speakup", "roster", "verify"]).exit_code == 0


def test_the_rotation_refuses_during_a_roster_alarm_or_when_the_audit_trail_fails(app, client, runner, tmp_path):
    gen_staff(app)
    old_file = _key_file(app, tmp_path / "old-key.txt")
    anchors = tmp_path / "audit-anchors"
    gen_concern(client)
    _anchor_audit(runner, anchors)
    with app.app_context():  # the audit trail loses its newest event
        from speakup.platform.models import AuditEvent

        newest = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
        saved = {column.name: getattr(newest, column.name) for column in AuditEvent.__table__.columns}
        db.session.delete(newest)
        db.session.commit()
    refused = rotate(runner, old_file, tmp_path / "new-1", anchors)
    assert refused.exit_code != 0 and "audit" in refused.output.lower() and not (tmp_path / "new-1").exists()
    with app.app_context():
        db.session.add(AuditEvent(**saved))
        db.session.commit()
        head = present(roster_log.head(), "roster head")
        db.session.execute(update(RosterEntry).where(RosterEntry.seq == head.seq).values(signature=b"x"))
        db.session.commit()
    refused = rotate(runner, old_file, tmp_path / "new-2", anchors)
    assert refused.exit_code != 0 and "alarm" in refused.output and not (tmp_path / "new-2").exists()
    with app.app_context():
        assert db.session.scalar(select(RosterEntry.kind).where(RosterEntry.kind == roster_log.HANDOVER)) is None
        assert recovery.organisation_public_key(KeyPurpose.ROSTER) == signing.signing_public_key_of(
            organisation_secrets(app).signing_key or b""
        )
    taken = tmp_path / "taken"
    taken.write_text("something else")
    refused = rotate(runner, old_file, taken, anchors)
    assert refused.exit_code != 0 and "already exists" in refused.output and taken.read_text() == "something else"


@pytest.mark.parametrize("signer", ["guardian", "nobody", "retired root", "attacker"])
def test_a_hand_over_signed_by_anyone_but_the_root_in_force_is_an_alarm(app, client, runner, tmp_path, signer):
    gita = gen_staff(app)
    old_key = present(organisation_secrets(app).signing_key, "organisation key")
    old_pin = app.config["ROSTER_ROOT"]
    attacker = signing.generate_signing_keypair()
    if signer != "retired root":
        keys = {"guardian": _signing_key_of(app, gita.id), "nobody": None, "attacker": attacker.private_bytes}
        with app.app_context():
            roster_log.append(roster_log.HANDOVER, None, {"new_root_public": roster_log.b64(attacker.public_bytes)},
                              gita.id if signer == "guardian" else roster_log.ORGANISATION, keys[signer])  # fmt: skip
            db.session.commit()
        pins = [old_pin]
    else:  # the old key, after a rotation, hands over (or vouches for a roster) again
        _old_file, _new_file, _anchors, _new_key, new_pin = _rotated(app, client, runner, tmp_path)
        pins = [old_pin, new_pin]
        with app.app_context():
            roster_log.append(roster_log.HANDOVER, None, {"new_root_public": roster_log.b64(attacker.public_bytes)},
                              roster_log.ORGANISATION, old_key)  # fmt: skip
            db.session.commit()
    for pin in pins:
        _restart_with_pin(app, pin)
        with app.app_context():
            assert roster.verify_roster().problem is not None, pin
    assert guardians_wrapped_for(app, gen_concern(client)["reference"]) == set()


def test_a_checkpoint_the_retired_root_signs_after_its_hand_over_is_an_alarm(app, client, runner, tmp_path):
    gen_staff(app)
    old_key = present(organisation_secrets(app).signing_key, "organisation key")
    old_pin = app.config["ROSTER_ROOT"]
    _old_file, _new_file, _anchors, _new_key, new_pin = _rotated(app, client, runner, tmp_path)
    mallory = gen_staff(app, email="mallory@example.org", name="Mallory", approved=False)
    with app.app_context():
        subject = roster_log.subject_of(get_row(User, mallory.id))
        roster_log.checkpoint(old_key, organisation_secrets_public(app), [subject])
        db.session.commit()
    for pin in (old_pin, new_pin):
        _restart_with_pin(app, pin)
        with app.app_context():
            verified = roster.verify_roster()
            assert verified.problem is not None and mallory.id not in verified.members, pin


def organisation_secrets_public(app: Flask) -> bytes:
    from speakup.crypto import kem

    return kem.public_key_of(organisation_secrets(app).recovery_key)


def _signing_key_of(app: Flask, user_id: int) -> bytes:
    """A guardian's signing key, as the guardian (or a thief of their password) holds it."""
    from support.factories import PASSWORD

    from speakup.keys import account_keys

    with app.app_context():
        user = get_row(User, user_id)
        return present(account_keys.unlock_account(user, PASSWORD).keys.signing_key, "signing key")


def test_organisation_keys_stored_rows_follow_the_rotation(app, client, runner, tmp_path):
    _old, _new, _anchors, new_key, _pin = _rotated(app, client, runner, tmp_path)
    with app.app_context():
        rows = db.session.scalars(select(OrganisationKey).where(OrganisationKey.purpose == KeyPurpose.ROSTER)).all()
        assert [row.public_key for row in rows] == [signing.signing_public_key_of(new_key)]


def test_a_server_pinned_anew_keeps_the_anchor_it_followed_the_hand_over_with(app, client, runner, tmp_path):
    """Another server than the one the rotation ran on: it followed the hand-over under the old pin, then a guardian
    was disabled; a database writer puts the log back to before that. Restarted with the new pin, it still sees it."""
    gita = gen_staff(app)
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    _old, _new, _anchors, _key, new_pin = _rotated(app, client, runner, tmp_path)
    anchor_file = Path(app.config["ROSTER_ANCHOR_FILE"])
    slots = json.loads(anchor_file.read_text())
    del slots[signing.normalise_fingerprint(new_pin)]  # this server never ran the rotation
    anchor_file.write_text(json.dumps(slots))
    with app.app_context():
        get_row(User, bea.id).is_active = False
        roster_log.note(roster_log.DISABLE, get_row(User, bea.id))
        db.session.commit()
    assert guardians_wrapped_for(app, gen_concern(client)["reference"]) == {gita.id}  # anchored, old pin
    with app.app_context():  # the disabling is rolled back
        db.session.execute(delete(RosterEntry).where(RosterEntry.seq == present(roster_log.head(), "head").seq))
        get_row(User, bea.id).is_active = True
        db.session.commit()
    _restart_with_pin(app, new_pin)
    with app.app_context():
        verified = roster.verify_roster()
        assert verified.problem is not None and "rolled back" in verified.problem


def test_audit_anchors_a_restore_line_of_the_old_key_retired_stay_green(app, client, runner, tmp_path):
    """A restore accepted with the old key retired anchors the chain no longer reaches. That line no longer verifies
    after the rotation (the old key is not in force), so the rotation's own line, signed by the new key, must."""
    old_file = _key_file(app, tmp_path / "old-key.txt")
    anchors = tmp_path / "audit-anchors"
    gen_concern(client)
    anchors.write_text(f"event 999999 {'ab' * 32} 2026-01-01T00:00:00Z\n")  # an anchor a restore left unreached
    accepted = runner.invoke(args=["speakup", "audit", "accept-restore", "--file", str(anchors),
                                   "--recovery-key-file", str(old_file)])  # fmt: skip
    assert accepted.exit_code == 0, accepted.output
    assert _audit_verify(runner, anchors).exit_code == 0
    rotated = rotate(runner, old_file, tmp_path / "new-key.txt", anchors)
    assert rotated.exit_code == 0, rotated.output
    verified = _audit_verify(runner, anchors)
    assert verified.exit_code == 0 and "not signed by the organisation key" in verified.output, verified.output
    _restart_with_pin(app, _new_root(app, tmp_path / "new-key.txt")[1])
    assert _audit_verify(runner, anchors).exit_code == 0
