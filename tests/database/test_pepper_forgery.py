"""After a rotation of the pepper, someone who holds only the OLD pepper (leaked, say, from an old environment file)
and can write to the database cannot add or change anything in the audit chain that verifies: enumerated over
appending a row, inserting one at every place, and changing every column of every row, each time recomputing every
hash the old pepper lets them. Each forgery breaks the chain, and the forged row is not genuine (ops/audit_chain.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, insert, select
from support.apps import TEST_CONFIG
from support.environment import read_environment_lines

from speakup import create_app
from speakup.crypto import sealing
from speakup.ops import audit, audit_chain
from speakup.platform.models import AuditEvent, db

COLUMNS = ("created_at", "action", "actor_type", "actor_id", "case_id", "detail", "prev_hash", "hash")
CONTENT = ("prev_hash", "created_at", "action", "actor_type", "actor_id", "case_id", "detail")


@pytest.fixture
def rotated(app: Flask, runner, tmp_path: Path) -> Iterator[tuple[Flask, bytes]]:
    """Events before the rotation, the rotation, events after it: the app started with the new pepper, and the old
    pepper the attacker holds."""
    old = app.config["TOKEN_PEPPER_BYTES"]
    with app.app_context():
        for count in (1, 2):
            audit.record(audit.Action.EXPORT, audit.Actor.ADMIN, 1, None, count=count, format="csv")
        db.session.commit()
    done = runner.invoke(args=["speakup", "rotate-pepper", "--output", str(tmp_path / "pepper.env")])
    assert done.exit_code == 0, done.output
    lines = read_environment_lines((tmp_path / "pepper.env").read_text())
    keep = ("SQLALCHEMY_DATABASE_URI", "ROSTER_ANCHOR_FILE", "ROSTER_ROOT")
    after = create_app(
        {
            **TEST_CONFIG,
            **{key: app.config[key] for key in keep},
            "TOKEN_PEPPER": lines["SPEAKUP_TOKEN_PEPPER"],
            "TOKEN_PEPPER_FALLBACKS": json.loads(lines["SPEAKUP_TOKEN_PEPPER_FALLBACKS"]),
        }
    )
    with after.app_context():
        for count in (3, 4):
            audit.record(audit.Action.EXPORT, audit.Actor.ADMIN, 1, None, count=count, format="csv")
        db.session.commit()
        assert audit.check_chain().broken is None and audit.check_chain().events == 5
    yield after, old
    with after.app_context():
        db.session.remove()
        db.engine.dispose()


def _rows() -> list[dict[str, Any]]:
    events = db.session.execute(select(AuditEvent.__table__).order_by(AuditEvent.id)).mappings()
    return [dict(row) for row in events]


def _old_pepper_rows(rows: list[dict[str, Any]], old: bytes) -> set[int]:
    return {row["id"] for row in rows if audit_chain.row_hash(*(row[c] for c in CONTENT), pepper=old) == row["hash"]}


def _rechain(rows: list[dict[str, Any]], old: bytes) -> list[dict[str, Any]]:
    """Every link and hash the old pepper lets the attacker recompute, recomputed: the rows marked ``relink`` (under
    the old pepper, or made or changed by them) linked to the row before and hashed under the old pepper, those marked
    ``rehash`` hashed only; ids renumbered in order. A row under the new pepper keeps what is stored for it."""
    previous = audit.GENESIS_HASH
    chained = []
    for number, marked in enumerate(rows, start=1):
        row = {key: value for key, value in marked.items() if key not in ("relink", "rehash")}
        row["id"] = number
        if marked.get("relink"):
            row["prev_hash"] = previous
        if marked.get("relink") or marked.get("rehash"):
            row["hash"] = audit_chain.row_hash(*(row[c] for c in CONTENT), pepper=old)
        chained.append(row)
        previous = row["hash"]
    return chained


def _write(rows: list[dict[str, Any]]) -> None:
    db.session.execute(delete(AuditEvent))
    db.session.execute(insert(AuditEvent), rows)
    db.session.commit()


def _changed(row: dict[str, Any], column: str) -> Any:
    value = row[column]
    if column == "created_at":
        return value - timedelta(minutes=1)
    if column in ("actor_id", "case_id"):
        return (value or 0) + 1
    return {
        "action": audit.Action.ACCESS_CODE_REPLACED.value,
        "actor_type": "guardian" if value != "guardian" else "admin",
        "detail": json.dumps({"code_generation": "0" * 32}),
        "prev_hash": "f" * 64,
        "hash": "e" * 64,
    }[column]


def _mutations(rows: list[dict[str, Any]]) -> Iterator[tuple[str, list[dict[str, Any]], int]]:
    """(what, the rows as the attacker leaves them before re-chaining, the id of the row they made or changed)."""
    forged = {**rows[-1], "action": audit.Action.ACCESS_CODE_REPLACED.value, "case_id": 1, "relink": True,
              "detail": json.dumps({"code_generation": "0" * 32})}  # fmt: skip
    yield "append", [*rows, forged], len(rows) + 1
    for place in range(len(rows) + 1):
        yield f"insert at {place}", [*rows[:place], forged, *rows[place:]], place + 1
    for index, row in enumerate(rows):
        for column in COLUMNS:
            how = {"hash": {}, "prev_hash": {"rehash": True}}.get(column, {"relink": True})
            edited = {**row, "relink": False, column: _changed(row, column), **how}
            yield f"row {index + 1}: {column}", [*rows[:index], edited, *rows[index + 1 :]], index + 1
    yield "truncate from the rotation", [row for row in rows if row["action"] != "pepper_rotated"][:2], 2


def test_the_old_pepper_forges_nothing_after_a_rotation(rotated: tuple[Flask, bytes]):
    after, old = rotated
    with after.app_context():
        original = _rows()
        theirs = _old_pepper_rows(original, old)
        assert theirs == {original[0]["id"], original[1]["id"]}  # the rows before the rotation, and no other
        marked = [{**row, "relink": row["id"] in theirs} for row in original]
        verified, genuine = [], []
        for what, rows, changed in _mutations(marked):
            _write(_rechain(rows, old))
            if audit.check_chain().broken is None:
                verified.append(what)
            if audit.is_genuine(db.session.get_one(AuditEvent, changed)):
                genuine.append(what)
            _write(original)
        assert audit.check_chain().broken is None
        assert verified == [] and genuine == []


def test_the_pepper_id_names_a_pepper_without_giving_it_away():
    assert sealing.pepper_id(b"one pepper") == sealing.pepper_id(b"one pepper")
    assert sealing.pepper_id(b"one pepper") != sealing.pepper_id(b"another pepper")
    assert len(sealing.pepper_id(b"one pepper")) == 32 and "pepper" not in sealing.pepper_id(b"one pepper")
