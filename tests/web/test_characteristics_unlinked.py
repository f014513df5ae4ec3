"""A copy of the database (a `pg_dump`, a backup) without the server's pepper cannot tell which case answered the
voluntary questions about the person (outside review, issue 24): answering changes no row of any case, only the
quarter's counts and a marker that is a keyed hash of the case's id under the pepper.

The schema is read from the migrated database itself, every table and every column, so a column added later that
changes when a person answers fails here."""

from __future__ import annotations

import hashlib
import hmac
import threading
from datetime import timedelta

import pytest
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, text, update
from support.factories import gen_concern, without_the_pepper
from support.html import post_form
from support.present import scalar, table_of

from speakup.crypto import sealing
from speakup.domain import characteristics, retention, workflow
from speakup.platform import clock
from speakup.platform.migrations import enable_migrations
from speakup.platform.models import Case, db

# Reflecting the schema (and SQLite's batch migrations) cannot read the expression index on users' emails.
pytestmark = pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")

MARKERS, COUNTS = "characteristics_answered", "characteristic_counts"
Dump = dict[str, set[tuple[tuple[str, object], ...]]]


def _dump(app: Flask) -> Dump:
    """Every row of every table of the migrated database, column by column, as a dump reader has them."""
    with app.app_context(), db.engine.connect() as connection:
        inspector = inspect(connection)
        dump: Dump = {}
        for table in inspector.get_table_names():
            columns = [column["name"] for column in inspector.get_columns(table)]
            listed = ", ".join(f'"{column}"' for column in columns)
            rows = connection.execute(text(f'SELECT {listed} FROM "{table}"'))  # noqa: S608 - names read from the schema
            dump[table] = {tuple(zip(columns, row, strict=True)) for row in rows}
        return dump


def _count(value: object) -> int:
    """A count as the dump holds it (any column's value is an object to it)."""
    assert isinstance(value, int), value
    return value


def _case_linked(app: Flask) -> dict[str, str]:
    """Every table that names a case, and the column that does: ``cases`` by its id, and every table with a column
    that refers to ``cases.id`` or is called ``case_id`` (the audit trail's has no foreign key)."""
    with app.app_context(), db.engine.connect() as connection:
        inspector = inspect(connection)
        linked = {"cases": "id"}
        for table in inspector.get_table_names():
            for key in inspector.get_foreign_keys(table):
                if key["referred_table"] == "cases":
                    linked[table] = key["constrained_columns"][0]
            if "case_id" in {column["name"] for column in inspector.get_columns(table)}:
                linked.setdefault(table, "case_id")
    assert {"cases", "case_grants", "case_events", "messages", "reporter_sessions", "audit_events"} <= set(linked)
    return linked


def _changed(before: Dump, after: Dump) -> set[str]:
    assert set(before) == set(after)
    return {table for table in before if before[table] != after[table]}


def _case(reference: str) -> Case:
    return scalar(select(Case).where(Case.reference == reference))


def test_answering_later_changes_the_marker_and_the_counts_and_no_row_of_any_case(app):
    raised = gen_concern(app.test_client(use_cookies=False))
    linked = _case_linked(app)
    before = _dump(app)
    with app.app_context():
        answers = {"religion": "sikh", "sexual_orientation": "gay_lesbian"}
        characteristics.give_for_case(_case(raised["reference"]), answers)
    after = _dump(app)
    assert _changed(before, after) == {MARKERS, COUNTS}
    assert not set(linked) & _changed(before, after)
    assert [dict(row) for row in after[MARKERS] - before[MARKERS]] == [{"lookup": _marker_of(app, raised)}]


def test_answering_through_the_api_changes_only_the_marker_and_the_counts(app):
    api = app.test_client(use_cookies=False)
    raised = gen_concern(api)
    headers = {"Authorization": f"Bearer {raised['access_code']}"}
    assert api.get("/api/v1/follow-up", headers=headers).get_json()["characteristics_asked"] is True
    before = _dump(app)
    answered = api.post("/api/v1/follow-up/characteristics", json={"disability": "yes"}, headers=headers)
    assert answered.status_code == 201
    after = _dump(app)
    assert _changed(before, after) == {MARKERS, COUNTS}
    assert api.get("/api/v1/follow-up", headers=headers).get_json()["characteristics_asked"] is False


def test_answering_on_the_follow_up_page_writes_nothing_a_reply_would_not(app):
    """The page's request also claims its form and keeps the session alive, as every follow-up form does: the claim
    names no case and goes to the same path as a reply's, the session changes only its last-seen minute."""
    raised = gen_concern(app.test_client(use_cookies=False))
    reporter = app.test_client()
    assert post_form(reporter, "/follow-up", access_code=raised["access_code"]).status_code == 303
    assert post_form(reporter, "/follow-up/case", "/follow-up/case/messages", body="Any news?").status_code == 303
    reply_targets = {row.target for row in _form_posts(app)}
    before = _dump(app)
    answered = post_form(reporter, "/follow-up/case", "/follow-up/case/about-you", ethnic_group="mixed")
    assert answered.status_code == 303
    after = _dump(app)
    assert _changed(before, after) <= {MARKERS, COUNTS, "form_posts", "reporter_sessions"}
    assert {MARKERS, COUNTS} <= _changed(before, after)
    assert _without("last_seen_at", before["reporter_sessions"]) == _without("last_seen_at", after["reporter_sessions"])
    assert {row.target for row in _form_posts(app)} == reply_targets == {"/follow-up/case"}
    for table in set(_case_linked(app)) - {"reporter_sessions"}:
        assert before[table] == after[table], table


def _form_posts(app: Flask):
    with app.app_context():
        return db.session.execute(text("SELECT target FROM form_posts")).all()


def _without(column: str, rows: set[tuple[tuple[str, object], ...]]) -> set[tuple[tuple[str, object], ...]]:
    return {tuple(item for item in row if item[0] != column) for row in rows}


def test_a_concern_raised_with_answers_is_stored_like_one_raised_without(app):
    """Three concerns, the middle one with answers: every value the two without answers share (all but what is
    drawn at random for each case), the one with answers has too, in every table that names a case."""
    api = app.test_client(use_cookies=False)
    first = gen_concern(api)
    answering = gen_concern(api, characteristics={"age_band": "25_34", "religion": "jewish"})
    last = gen_concern(api)
    dump, linked = _dump(app), _case_linked(app)
    with app.app_context():
        ids = [_case(raised["reference"]).id for raised in (first, answering, last)]
    compared = 0
    for table, column in linked.items():
        rows = [[dict(row) for row in dump[table] if dict(row)[column] == case_id] for case_id in ids]
        assert len(rows[0]) == len(rows[1]) == len(rows[2]), table
        for name in {name for row in rows[0] for name in row}:
            first_values, answering_values, last_values = (sorted(repr(row[name]) for row in each) for each in rows)
            if first_values == last_values:
                assert answering_values == first_values, (table, name)
                compared += 1
    assert compared > 20  # not a check of nothing
    assert len(dump[MARKERS]) == 1


def test_a_purge_leaves_the_markers_as_they_were(app):
    """Deleting a purged case's marker would tell two copies, one before and one after, that it had answered: the
    markers stay (a purged case is never asked again anyway: its access code opens nothing)."""
    answering = gen_concern(app.test_client(use_cookies=False), characteristics={"disability": "no"})
    with app.app_context():
        long_ago = clock.utcnow() - timedelta(days=retention.retention_days() + 30)
        db.session.execute(
            update(table_of(Case))
            .where(Case.__table__.c.reference == answering["reference"])
            .values(status=workflow.CLOSED, closed_at=long_ago)
        )
        db.session.commit()
    before = _dump(app)
    with app.app_context():
        assert retention.purge(retention.purge_candidates(clock.utcnow()), dry_run=False).count == 1
        db.session.commit()
    after = _dump(app)
    assert "cases" in _changed(before, after)
    assert after[MARKERS] == before[MARKERS] and len(after[MARKERS]) == 1


def _marker_of(app: Flask, raised: dict) -> str:
    with app.app_context():
        return characteristics.marker(_case(raised["reference"]).id)


def test_the_marker_is_nothing_a_dump_reader_can_compute_from_the_case(app):
    raised = gen_concern(app.test_client(use_cookies=False), characteristics={"sex": "female"})
    dump = _dump(app)
    assert {name for row in dump[MARKERS] for name, _value in row} == {"lookup"}
    [[(_name, stored)]] = dump[MARKERS]
    with app.app_context():
        case = _case(raised["reference"])
        case_id, reference, lookup_id = case.id, case.reference, case.access_lookup_id
    pepper = app.config["TOKEN_PEPPER_BYTES"]
    assert stored == sealing.keyed_hash(pepper, str(case_id), characteristics.MARKER_PURPOSE)  # the server's
    # What a reader of the dump can make of the case without the pepper: its id and reference in every usual form,
    # unkeyed hashes of them (with and without the purpose), and the keyed hash under any other key.
    texts = {str(case_id), reference, reference.removeprefix("SU-"), lookup_id, hex(case_id)[2:], f"{case_id:08x}"}
    texts |= {f"{characteristics.MARKER_PURPOSE}|{value}" for value in set(texts)}
    candidates = set(texts)
    for value in texts:
        data = value.encode()
        for algorithm in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha3_256", "blake2b", "blake2s"):
            digest = hashlib.new(algorithm, data)
            candidates |= {digest.hexdigest(), digest.hexdigest()[:64]}
        for key in (b"", b"speakup", characteristics.MARKER_PURPOSE.encode(), b"a thief's guess at the pepper"):
            candidates.add(hmac.new(key, data, hashlib.sha256).hexdigest())
    for raw in (case_id.to_bytes(4, "big"), case_id.to_bytes(4, "little"), case_id.to_bytes(8, "big")):
        candidates |= {raw.hex(), hashlib.sha256(raw).hexdigest()}
    assert stored not in candidates
    assert not any(value in stored for value in (str(case_id), reference, reference.removeprefix("SU-")))


def test_without_the_pepper_the_services_own_code_cannot_tell_which_case_answered(app):
    api = app.test_client(use_cookies=False)
    answering = gen_concern(api, characteristics={"trained_outside_uk": "no"})
    silent = gen_concern(api)
    with app.app_context():
        assert characteristics.answered(_case(answering["reference"]))
        assert not characteristics.answered(_case(silent["reference"]))
    with without_the_pepper(app):
        assert not characteristics.answered(_case(answering["reference"]))
        assert not characteristics.answered(_case(silent["reference"]))


def test_two_answers_sent_at_once_count_once(app):
    """The marker's primary key decides: the second INSERT waits for the first transaction and finds its row."""
    raised = gen_concern(app.test_client(use_cookies=False))
    start, outcomes = threading.Barrier(2), []

    def answer(value: str) -> None:
        with app.app_context():
            case = _case(raised["reference"])
            start.wait()
            try:
                characteristics.give_for_case(case, {"age_band": value})
                outcomes.append("counted")
            except characteristics.AlreadyGiven:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=answer, args=(value,)) for value in ("25_34", "35_44")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["counted", "refused"]
    dump = _dump(app)
    assert len(dump[MARKERS]) == 1
    assert sum(_count(dict(row)["count"]) for row in dump[COUNTS]) == 1


def test_the_migration_moves_each_flag_to_its_marker_and_back(app):
    api = app.test_client(use_cookies=False)
    answering = gen_concern(api, characteristics={"sex": "male"})
    silent = gen_concern(api)
    with app.app_context():
        enable_migrations(app)
        try:
            downgrade(revision="0017")
            flags: dict[str, object] = dict(
                db.session.execute(text("SELECT reference, characteristics_given FROM cases")).all()
            )
            db.session.commit()
            assert {reference: bool(flag) for reference, flag in flags.items()} == {
                answering["reference"]: True,
                silent["reference"]: False,
            }
            assert MARKERS not in inspect(db.engine).get_table_names()
        finally:
            db.session.remove()
            upgrade()
        assert "characteristics_given" not in {column["name"] for column in inspect(db.engine).get_columns("cases")}
        assert characteristics.answered(_case(answering["reference"]))
        assert not characteristics.answered(_case(silent["reference"]))
    assert not any(name == "characteristics_given" for row in _dump(app)["cases"] for name, _value in row)
