"""`speakup roster accept` after a log shorter than the anchor (outside review r5, F2): the entries the anchor saw and
the log lost may have revoked statistics tokens, and nothing left in the database says which (the rows and the audit
trail's tail can be put back too). So every token that exists then is carried forward as revoked, and accept says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, select, update
from support.present import table_of

from speakup.keys import recovery
from speakup.platform.models import AuditEvent, RosterEntry, StatsToken, User, db

API_STATS = "/api/v1/stats?quarter=2026Q2"


def _status(app: Flask, token: str) -> int:
    client = app.test_client(use_cookies=False)
    return client.get(API_STATS, headers={"Authorization": f"Bearer {token}"}).status_code


def _made(runner: Any, name: str) -> str:
    made = runner.invoke(args=["speakup", "stats-token", "create", "--name", name])
    return str(made.output.split("stats-token: ", 1)[1].split()[0])


def _key_file(app: Flask, tmp_path: Path) -> Path:
    key_file = tmp_path / "recovery.key"
    key_file.write_text(
        recovery.encode_recovery_file(app.config["TEST_RECOVERY_PRIVATE_KEY"], app.config["TEST_ROSTER_SIGNING_KEY"])
    )
    return key_file


TABLES = (User, StatsToken, RosterEntry, AuditEvent)


@pytest.mark.parametrize("how", ["the staff tables put back", "the tail removed"])
def test_accept_after_a_lost_span_revokes_every_statistics_token(app: Flask, runner: Any, tmp_path: Path, how: str):
    token_b = _made(runner, "tok b")
    with app.app_context():
        tables = [table_of(model) for model in TABLES]
        key = {table.name: (table.c.id if "id" in table.c else table.c.seq) for table in tables}
        copy = {t.name: [dict(r) for r in db.session.execute(select(t)).mappings()] for t in tables}
        revoked_at_seq = None
    assert runner.invoke(args=["speakup", "stats-token", "revoke", "--name", "tok b"]).exit_code == 0
    assert _status(app, token_b) == 401
    with app.app_context():
        if how == "the staff tables put back":
            for table in reversed(tables):
                kept = {row[key[table.name].name] for row in copy[table.name]}
                db.session.execute(delete(table).where(key[table.name].not_in(kept)))
            for table in tables:
                for row in copy[table.name]:
                    column = key[table.name]
                    db.session.execute(update(table).where(column == row[column.name]).values(**row))
        else:
            revoked_at_seq = db.session.scalar(select(RosterEntry.seq).where(RosterEntry.kind == "token_revoked"))
            db.session.execute(delete(RosterEntry).where(RosterEntry.seq >= revoked_at_seq))
            db.session.execute(delete(AuditEvent).where(AuditEvent.action == "stats_token_revoked"))
            db.session.execute(update(StatsToken).values(revoked_at=None))
        db.session.commit()
    app.extensions.pop("speakup_roster", None)
    assert _status(app, token_b) == 503  # a roster alarm
    accepted = runner.invoke(
        args=["speakup", "roster", "accept", "--recovery-key-file", str(_key_file(app, tmp_path))], input="y\n"
    )
    assert accepted.exit_code == 0, accepted.output
    assert "every statistics token is now revoked" in accepted.output
    assert _status(app, token_b) == 401
    listed = runner.invoke(args=["speakup", "stats-token", "list"]).output
    assert "tok b" in listed and "active" not in listed
    fresh = _made(runner, "tok c")  # the operator makes new ones: they work
    assert _status(app, fresh) == 200


def test_accept_without_a_lost_span_leaves_live_tokens_alone(app: Flask, runner: Any, tmp_path: Path) -> None:
    token = _made(runner, "tok a")
    with app.app_context():  # an alarm that loses nothing: an entry edited in place
        db.session.execute(update(RosterEntry).where(RosterEntry.seq == 1).values(signature=b"x" * 64))
        db.session.commit()
    app.extensions.pop("speakup_roster", None)
    accepted = runner.invoke(
        args=["speakup", "roster", "accept", "--recovery-key-file", str(_key_file(app, tmp_path))], input="y\n"
    )
    assert accepted.exit_code == 0, accepted.output
    assert "statistics token" not in accepted.output
    assert _status(app, token) == 200
