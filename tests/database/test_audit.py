"""The audit log: hash-chained, keyed with the server pepper, and refusing anything but plain facts."""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from datetime import datetime

import pytest
from sqlalchemy import func, select, text
from support.present import get_row, scalar

from speakup.ops import audit
from speakup.platform.models import AuditEvent, db


def _seed(app, count: int = 5) -> list[int]:
    """Several committed events of different kinds; returns their ids in order."""
    events: list[tuple[str, str, int | None, int | None, dict[str, object]]] = [
        (audit.Action.SIGN_IN_OK, "guardian", 1, None, {"email": "gita@example.org"}),
        (audit.Action.CASE_RAISED, "reporter", None, 7, {"status": "new"}),
        (audit.Action.CASE_VIEWED, "guardian", 1, 7, {}),
        (audit.Action.STATUS_CHANGED, "guardian", 1, 7, {"from_status": "new", "to_status": "acknowledged"}),
        (audit.Action.EXPORT, "admin", 2, None, {"count": 3, "format": "csv", "period": "2024-Q1"}),
        (audit.Action.CASE_SHARED, "guardian", 1, 7, {"guardian_id": 3}),
        (audit.Action.SIGN_OUT, "guardian", 1, None, {}),
    ]
    with app.app_context():
        ids = []
        for i in range(count):
            action, actor_type, actor_id, case_id, detail = events[i % len(events)]
            ids.append(audit.record(action, actor_type, actor_id, case_id, **detail).id)
            db.session.commit()
        return ids


def _execute(app, sql: str, **params) -> None:
    with app.app_context():
        db.session.execute(text(sql), params)
        db.session.commit()


def _verify(app) -> audit.BrokenLink | None:
    with app.app_context():
        return audit.check_chain().broken


def _count(app) -> int:
    with app.app_context():
        return scalar(select(func.count(AuditEvent.id)))


# --- An intact chain ------------------------------------------------------------------------


def test_an_empty_chain_is_intact(app):
    assert _verify(app) is None


def test_a_chain_of_several_events_verifies_and_links_each_row_to_the_one_before(app):
    ids = _seed(app, 7)
    assert _verify(app) is None
    with app.app_context():
        rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [row.id for row in rows] == ids
        assert rows[0].prev_hash == audit.GENESIS_HASH
        for before, after in itertools.pairwise(rows):
            assert after.prev_hash == before.hash
        assert len({row.hash for row in rows}) == len(rows)
        assert json.loads(rows[3].detail) == {"from_status": "new", "to_status": "acknowledged"}
        assert audit.detail_of(rows[4]) == {"count": 3, "format": "csv", "period": "2024-Q1"}
        assert rows[1].actor_type == "reporter" and rows[1].actor_id is None and rows[1].case_id == 7


def test_several_events_in_one_transaction_chain_onto_each_other(app):
    with app.app_context():
        first = audit.record(audit.Action.CASE_CLOSED, "guardian", 1, 9, outcome="resolved")
        second = audit.record(audit.Action.MESSAGE_SENT, "guardian", 1, 9)
        assert second.prev_hash == first.hash
        db.session.commit()
    assert _verify(app) is None


def test_the_chain_is_verified_in_batches_and_a_break_past_the_first_batch_is_found(app):
    ids = _seed(app, 7)
    with app.app_context():
        assert audit.check_chain(batch_size=2) == audit.ChainCheck(7, None, ids[-1], _hash_of(ids[-1]))
    _execute(app, "UPDATE audit_events SET case_id = 8 WHERE id = :id", id=ids[5])
    with app.app_context():
        assert audit.check_chain(batch_size=2).broken == audit.BrokenLink(ids[5], audit.EDITED)


def _hash_of(event_id: int) -> str:
    return scalar(select(AuditEvent.hash).where(AuditEvent.id == event_id))


def test_case_trail_lists_one_cases_events_oldest_first(app):
    _seed(app, 7)
    with app.app_context():
        audit.record(audit.Action.NOTE_ADDED, "guardian", 1, 8)
        db.session.commit()
        trail = audit.case_trail(7)
        assert [event.action for event in trail] == [
            audit.Action.CASE_RAISED,
            audit.Action.CASE_VIEWED,
            audit.Action.STATUS_CHANGED,
            audit.Action.CASE_SHARED,
        ]
        assert [event.id for event in trail] == sorted(event.id for event in trail)
        assert [event.action for event in audit.case_trail(8)] == [audit.Action.NOTE_ADDED]
        assert audit.case_trail(999) == []


# --- Tampering ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "assignment",
    [
        'detail = \'{"status":"closed"}\'',
        "action = 'sign_out'",
        "actor_id = 99",
        "case_id = NULL",
        "actor_type = 'admin'",
    ],
)
def test_editing_a_row_is_caught_as_edited_at_that_row(app, assignment):
    ids = _seed(app, 5)
    _execute(app, f"UPDATE audit_events SET {assignment} WHERE id = :id", id=ids[1])  # noqa: S608 - fixed strings
    assert _verify(app) == audit.BrokenLink(ids[1], "edited")


def test_editing_the_time_of_a_row_is_caught(app):
    ids = _seed(app, 3)
    _execute(app, "UPDATE audit_events SET created_at = :at WHERE id = :id", at=datetime(2020, 1, 1), id=ids[2])
    assert _verify(app) == audit.BrokenLink(ids[2], "edited")


def test_deleting_a_middle_row_is_caught_at_the_following_row(app):
    ids = _seed(app, 5)
    _execute(app, "DELETE FROM audit_events WHERE id = :id", id=ids[2])
    assert _verify(app) == audit.BrokenLink(ids[3], "deleted or reordered")


def test_deleting_the_first_row_is_caught(app):
    ids = _seed(app, 3)
    _execute(app, "DELETE FROM audit_events WHERE id = :id", id=ids[0])
    assert _verify(app) == audit.BrokenLink(ids[1], "deleted or reordered")


def test_swapping_two_rows_is_caught(app):
    ids = _seed(app, 5)
    a, b = ids[1], ids[2]
    _execute(app, "UPDATE audit_events SET id = -1 WHERE id = :a", a=a)
    _execute(app, "UPDATE audit_events SET id = :a WHERE id = :b", a=a, b=b)
    _execute(app, "UPDATE audit_events SET id = :b WHERE id = -1", b=b)
    assert _verify(app) == audit.BrokenLink(a, "deleted or reordered")


def test_moving_a_row_to_the_end_is_caught(app):
    ids = _seed(app, 5)
    moved = ids[1]
    _execute(app, "UPDATE audit_events SET id = :new WHERE id = :old", new=ids[-1] + 100, old=moved)
    assert _verify(app) == audit.BrokenLink(ids[2], "deleted or reordered")


def test_rewriting_a_row_and_relinking_the_chain_without_the_pepper_is_caught(app):
    """Someone with write access but without the pepper edits a row, then recomputes every hash after it with
    plain SHA-256 over the same canonical text so that each prev_hash matches again."""
    ids = _seed(app, 5)
    _execute(app, "UPDATE audit_events SET detail = :detail WHERE id = :id", detail='{"status":"closed"}', id=ids[1])
    with app.app_context():
        rows = db.session.execute(select(AuditEvent.__table__).order_by(AuditEvent.id)).all()
        prev = rows[0].hash
        for row in rows[1:]:
            canonical = audit._canonical(
                prev, row.created_at, row.action, row.actor_type, row.actor_id, row.case_id, row.detail
            )
            forged = hashlib.sha256(f"{audit.HASH_PURPOSE}|{canonical}".encode()).hexdigest()
            db.session.execute(
                text("UPDATE audit_events SET prev_hash = :prev, hash = :hash WHERE id = :id"),
                {"prev": prev, "hash": forged, "id": row.id},
            )
            prev = forged
        db.session.commit()
    assert _verify(app) == audit.BrokenLink(ids[1], "edited")


def test_the_chain_is_keyed_with_the_pepper(app):
    _seed(app, 3)
    assert _verify(app) is None
    real = app.config["TOKEN_PEPPER_BYTES"]
    app.config["TOKEN_PEPPER_BYTES"] = b"another pepper"
    try:
        first = _first_id(app)
        assert _verify(app) == audit.BrokenLink(first, "edited")
    finally:
        app.config["TOKEN_PEPPER_BYTES"] = real


def _first_id(app) -> int:
    with app.app_context():
        return scalar(select(func.min(AuditEvent.id)))


# --- The command --------------------------------------------------------------------------


def test_verify_command_reports_an_intact_chain(app, runner):
    ids = _seed(app, 4)
    result = runner.invoke(args=["speakup", "audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "Audit chain intact: 4 events" in result.output
    assert f"Latest event {ids[-1]}" in result.output


def test_verify_command_on_an_empty_log(app, runner):
    result = runner.invoke(args=["speakup", "audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "Audit chain intact: 0 events" in result.output


def test_verify_command_exits_1_at_an_edited_row(app, runner):
    ids = _seed(app, 4)
    _execute(app, "UPDATE audit_events SET action = 'export' WHERE id = :id", id=ids[2])
    result = runner.invoke(args=["speakup", "audit", "verify"])
    assert result.exit_code == 1, result.output
    assert f"Audit chain broken at event {ids[2]}: edited" in result.output
    assert "intact" not in result.output


def test_verify_under_another_pepper_says_to_check_the_environment_before_suspecting_tampering(app, runner):
    """Outside review 2, finding 7: run with an environment file from before `rotate-pepper`, every event read as
    edited, which a hurried operator takes for tampering."""
    _seed(app, 2)
    app.config["TOKEN_PEPPER_BYTES"] = b"another pepper entirely, from an old environment file"
    result = runner.invoke(args=["speakup", "audit", "verify"])
    assert result.exit_code == 1 and ": edited" in result.output
    assert "SPEAKUP_TOKEN_PEPPER" in result.output and "run this again with that file's values" in result.output


def test_verify_command_exits_1_at_a_deleted_row(app, runner):
    ids = _seed(app, 4)
    _execute(app, "DELETE FROM audit_events WHERE id = :id", id=ids[1])
    result = runner.invoke(args=["speakup", "audit", "verify"])
    assert result.exit_code == 1, result.output
    assert f"Audit chain broken at event {ids[2]}: deleted or reordered" in result.output


# --- Anchors: deleting the newest events -------------------------------


def _anchor(runner, path) -> str:
    result = runner.invoke(args=["speakup", "audit", "anchor", "--file", str(path)])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_deleting_the_newest_events_is_caught_against_an_anchor(app, runner, tmp_path):
    ids = _seed(app, 5)
    anchors = tmp_path / "anchors.txt"
    line = _anchor(runner, anchors)
    with app.app_context():
        head = get_row(AuditEvent, ids[-1]).hash
    assert line.startswith(f"event {ids[-1]} {head} ")
    assert anchors.read_text() == line + "\n" and (anchors.stat().st_mode & 0o777) == 0o600
    # Without an anchor the shortened chain still looks intact: that is the gap.
    _execute(app, "DELETE FROM audit_events WHERE id >= :id", id=ids[3])
    assert runner.invoke(args=["speakup", "audit", "verify"]).exit_code == 0
    result = runner.invoke(args=["speakup", "audit", "verify", "--anchor", str(anchors)])
    assert result.exit_code == 1, result.output
    assert f"Audit chain no longer reaches anchored event {ids[-1]}" in result.output


def test_an_anchored_chain_that_grows_still_verifies(app, runner, tmp_path):
    _seed(app, 3)
    anchors = tmp_path / "anchors.txt"
    _anchor(runner, anchors)
    _seed(app, 2)
    _anchor(runner, anchors)  # appended: the file keeps every head
    assert len(anchors.read_text().splitlines()) == 2
    _seed(app, 2)
    result = runner.invoke(args=["speakup", "audit", "verify", "--anchor", str(anchors)])
    assert result.exit_code == 0, result.output
    assert "Audit chain intact: 7 events, 2 anchors reached" in result.output


def test_an_anchored_event_rewritten_with_the_chain_relinked_is_caught(app, runner, tmp_path):
    """Someone who deletes the tail and writes new rows at the same ids cannot match the anchored hash."""
    ids = _seed(app, 3)
    anchors = tmp_path / "anchors.txt"
    _anchor(runner, anchors)
    _execute(app, "DELETE FROM audit_events WHERE id = :id", id=ids[-1])
    with app.app_context():
        audit.record(audit.Action.SIGN_OUT, "guardian", 1)
        db.session.commit()
        db.session.execute(text("UPDATE audit_events SET id = :old WHERE id = (SELECT max(id) FROM audit_events)"),
                           {"old": ids[-1]})  # fmt: skip
        db.session.commit()
    result = runner.invoke(args=["speakup", "audit", "verify", "--anchor", str(anchors)])
    assert result.exit_code == 1 and f"no longer reaches anchored event {ids[-1]}" in result.output


def test_anchor_refuses_a_broken_chain_and_verify_refuses_a_bad_anchor_file(app, runner, tmp_path):
    ids = _seed(app, 3)
    bad = tmp_path / "bad.txt"
    bad.write_text("event 1 not-a-hash\n")
    result = runner.invoke(args=["speakup", "audit", "verify", "--anchor", str(bad)])
    assert result.exit_code == 1 and "line 1 is not an anchor" in result.output
    _execute(app, "UPDATE audit_events SET action = 'export' WHERE id = :id", id=ids[1])
    anchors = tmp_path / "anchors.txt"
    result = runner.invoke(args=["speakup", "audit", "anchor", "--file", str(anchors)])
    assert result.exit_code == 1 and "nothing anchored" in result.output
    assert not anchors.exists()


# --- What may be recorded -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "detail"),
    [
        (("concern_text", "guardian", 1), {}),
        (("SIGN_IN_OK", "guardian", 1), {}),
        ((audit.Action.CASE_VIEWED, "hacker", 1), {}),
        ((audit.Action.CASE_RAISED, "reporter", 5), {}),  # a reporter has no id
        ((audit.Action.CASE_VIEWED, "guardian", "1"), {}),
        ((audit.Action.CASE_VIEWED, "guardian", 1, True), {}),
        ((audit.Action.CASE_RAISED, "reporter", None, 7), {"what_happened": "The night shift was left unsafe."}),
        ((audit.Action.CASE_RAISED, "reporter", None, 7), {"access_code": "ABCD"}),
        ((audit.Action.CASE_RAISED, "reporter", None, 7), {"email": "someone@example.org"}),
        ((audit.Action.MESSAGE_SENT, "guardian", 1, 7), {"body": "hello"}),
        ((audit.Action.STATUS_CHANGED, "guardian", 1, 7), {"status": ["new", "closed"]}),
        ((audit.Action.STATUS_CHANGED, "guardian", 1, 7), {"status": {"to": "closed"}}),
        ((audit.Action.STATUS_CHANGED, "guardian", 1, 7), {"count": 1.5}),
        ((audit.Action.STATUS_CHANGED, "guardian", 1, 7), {"reason": b"bytes"}),
        ((audit.Action.STATUS_CHANGED, "guardian", 1, 7), {"reason": datetime(2024, 1, 1)}),
        ((audit.Action.STATUS_CHANGED, "guardian", 1, 7), {"reason": "x" * 255}),
        ((audit.Action.STATUS_CHANGED, "guardian", 1, 7), {"reason": "first line\nsecond line"}),
    ],
)
def test_record_refuses_what_is_not_a_plain_allowed_fact(app, args, detail):
    with app.app_context():
        with pytest.raises(ValueError):
            audit.record(*args, **detail)
        db.session.commit()
    assert _count(app) == 0


def test_record_refuses_an_access_code_even_under_an_allowed_key(app):
    from speakup.crypto import access_codes

    code = access_codes.new_access_code()
    with app.app_context():
        for value in (code, code.replace("-", "").lower()):
            with pytest.raises(ValueError, match="access code"):
                audit.record(audit.Action.RECOVERY, "system", reason=value)
        db.session.commit()
    assert _count(app) == 0


def test_every_action_constant_is_accepted(app):
    with app.app_context():
        assert set(audit.Action) == audit.ACTIONS
        for action in sorted(audit.ACTIONS):
            audit.record(action, "system")
        db.session.commit()
    assert _count(app) == len(audit.ACTIONS)
    assert _verify(app) is None


def test_a_rolled_back_transaction_leaves_no_event_and_the_chain_continues(app):
    ids = _seed(app, 2)
    with app.app_context():
        audit.record(audit.Action.CASE_CLOSED, "guardian", 1, 7, outcome="resolved")
        db.session.rollback()
    assert _count(app) == 2
    with app.app_context():
        event = audit.record(audit.Action.CASE_REOPENED, "guardian", 1, 7)
        db.session.commit()
        assert event.prev_hash == _hash_of(ids[-1])
    assert _verify(app) is None


def test_concurrent_writers_keep_one_linear_chain(app):
    """Writers in separate transactions each read the latest row after taking the lock, so none fork the chain."""
    per_thread, threads = 8, 4
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def write() -> None:
        try:
            with app.app_context():
                start.wait()
                for _ in range(per_thread):
                    audit.record(audit.Action.CASE_VIEWED, "guardian", 1, 7)
                    db.session.commit()
                db.session.remove()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    workers = [threading.Thread(target=write) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert _count(app) == per_thread * threads
    assert _verify(app) is None
