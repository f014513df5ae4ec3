"""The roster log after `speakup rotate-organisation-key`, enumerated: each row the rotation wrote (the hand-over
and the new root's checkpoint) is deleted, cut back to (the log put back to an older copy), replaced by an older
row, and has each of its columns edited; and forged entries are appended after it. Whatever the change, with the
old pin (a server not restarted yet) and with the new one, the roster never trusts anyone the attacker chose: it
raises an alarm, or it is the roster as it was (Gita, with the keys she was approved with)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.exc import DBAPIError, StatementError
from support.factories import gen_concern, gen_staff, guardians_wrapped_for, organisation_secrets
from support.present import get_row

from speakup.crypto import kem, signing
from speakup.keys import recovery, roster, roster_log
from speakup.platform.models import RosterEntry, User, db

TABLE = cast(Table, RosterEntry.__table__)
KINDS = ["checkpoint", "handover", "approve", "disable", "reset", "added", "code_given", "nonsense"]


def _rows() -> list[dict[str, Any]]:
    return [dict(row) for row in db.session.execute(select(TABLE).order_by(TABLE.c.seq)).mappings()]


def _put_back(rows: list[dict[str, Any]]) -> None:
    db.session.execute(delete(TABLE))
    db.session.execute(insert(TABLE), rows)
    db.session.commit()


def _flip(data: bytes | None) -> bytes:
    data = data or b"\0"
    return data[:-1] + bytes([data[-1] ^ 1])


def _restated(row: dict[str, Any], **changes: object) -> bytes:
    statement = json.loads(row["statement"]) | changes
    return json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()


@pytest.fixture
def app_overrides() -> dict[str, object]:
    return {"RATELIMIT_ENABLED": False}  # a concern after each change


Change = tuple[str, Callable[[], object]]


def _changes(rows: list[dict[str, Any]], target: dict[str, Any], attacker: bytes, mallory: dict) -> Iterator[Change]:
    seq = target["seq"]
    where = TABLE.c.seq == seq
    first = rows[0]
    other = next(row for row in rows if row["seq"] != seq and row["kind"] in ("handover", "checkpoint"))

    def run(statement: Any) -> Callable[[], object]:
        return lambda: db.session.execute(statement)

    yield "deleted", run(delete(TABLE).where(where))
    yield "cut back to before it", run(delete(TABLE).where(TABLE.c.seq >= seq))
    copied = {name: first[name] for name in ("kind", "user_id", "statement", "signature")}
    yield "the first checkpoint put in its place", run(update(TABLE).where(where).values(**copied))
    yield "seq moved", run(update(TABLE).where(where).values(seq=seq + 1000))
    for kind in KINDS:
        yield f"kind {kind}", run(update(TABLE).where(where).values(kind=kind))
    for user_id in (None, mallory["user_id"], 0):
        yield f"user_id {user_id}", run(update(TABLE).where(where).values(user_id=user_id))
    attacker_public = roster_log.b64(signing.signing_public_key_of(attacker))
    statements = {
        "flipped": _flip(target["statement"]),
        "the other row's": other["statement"],
        "the first row's": first["statement"],
        "naming the attacker's key": _restated(target, new_root_public=attacker_public, root_public=attacker_public),
        "naming Mallory": _restated(target, members=[mallory]),
        "not JSON": b"\xff{",
    }
    for name, statement in statements.items():
        yield f"statement {name}", run(update(TABLE).where(where).values(statement=statement))
        resigned = signing.sign(attacker, roster_log.CONTEXT, statement)
        yield (
            f"statement {name}, signed by the attacker",
            run(update(TABLE).where(where).values(statement=statement, signature=resigned)),
        )
    for name, signature in {"none": None, "flipped": _flip(target["signature"]), "other": other["signature"]}.items():
        yield f"signature {name}", run(update(TABLE).where(where).values(signature=signature))
    yield "created_at", run(update(TABLE).where(where).values(created_at=target["created_at"] + timedelta(days=1)))
    body = {"new_root_public": attacker_public}
    yield (
        "a hand-over to the attacker's key appended",
        lambda: roster_log.append(roster_log.HANDOVER, None, body, roster_log.ORGANISATION, attacker),
    )
    public = kem.public_key_of(kem.generate_keypair().private_bytes)
    yield "a checkpoint of Mallory appended", lambda: roster_log.checkpoint(attacker, public, [mallory])


def test_no_change_to_the_rows_a_rotation_wrote_trusts_anyone_the_attacker_chose(app, client, runner, tmp_path):
    gita = gen_staff(app)
    mallory = gen_staff(app, email="mallory@example.org", name="Mallory", approved=False)
    old_pin = app.config["ROSTER_ROOT"]
    key_file, new_file, anchors = tmp_path / "old.key", tmp_path / "new.key", tmp_path / "anchors"
    secrets = organisation_secrets(app)
    key_file.write_text(recovery.encode_recovery_file(secrets.recovery_key, secrets.signing_key))
    gen_concern(client)
    assert runner.invoke(args=["speakup", "audit", "anchor", "--file", str(anchors)]).exit_code == 0
    rotated = runner.invoke(
        args=["speakup", "rotate-organisation-key", "--recovery-key-file", str(key_file),
              "--new-recovery-key-file", str(new_file), "--audit-anchor-file", str(anchors)]
    )  # fmt: skip
    assert rotated.exit_code == 0, rotated.output
    new_pin = rotated.output.split("SPEAKUP_ROSTER_ROOT=")[1].split()[0]
    assert runner.invoke(args=["speakup", "roster", "verify"]).exit_code == 0  # the old pin's anchor follows
    anchor_file = Path(app.config["ROSTER_ANCHOR_FILE"])
    anchored = anchor_file.read_text()
    attacker = signing.generate_signing_keypair().private_bytes
    with app.app_context():
        rows = _rows()
        gita_key = get_row(User, gita.id).public_key
        mallory_subject = roster_log.subject_of(get_row(User, mallory.id))
        genuine_recovery = kem.public_key_of(secrets.recovery_key)
    targets = [row for row in rows if row["kind"] == "handover"] + [rows[-1]]
    assert [row["kind"] for row in targets] == ["handover", "checkpoint"]
    checked = alarms = 0
    for pin in (old_pin, new_pin):
        for target in targets:
            for name, change in _changes(rows, target, attacker, mallory_subject):
                app.config["ROSTER_ROOT"] = pin
                app.extensions.pop("speakup_roster", None)
                anchor_file.write_text(anchored)
                with app.app_context():
                    _put_back(rows)
                    try:
                        change()
                        db.session.commit()
                    except (DBAPIError, StatementError):
                        db.session.rollback()
                        continue
                    verified = roster.verify_roster()
                    what = f"{target['kind']} {name}, pinned {'old' if pin == old_pin else 'new'}"
                    if verified.problem is None:
                        assert set(verified.members) <= {gita.id}, what
                        assert all(m.public_key == gita_key for m in verified.members.values()), what
                        assert verified.recovery_key == genuine_recovery, what
                    else:
                        alarms += 1
                        assert verified.members == {}, what
                wrapped = guardians_wrapped_for(app, gen_concern(client)["reference"])
                assert wrapped <= {gita.id} and mallory.id not in wrapped, what
                checked += 1
    assert checked > 100 and alarms > 50, (checked, alarms)
