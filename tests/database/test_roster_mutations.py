"""The mutation harness: every change a database writer can make to the staff side of the database, and
after each a new concern. The tables and columns are read from the schema, so a new one is covered without editing
this file: the staff side is every table that holds no case's data (no ``case_id`` column, and not ``cases``).

The installation: Gita and Bea are approved; Cal was approved then reset; Dan was approved then disabled; Pat is
enrolled and waiting with one of the two approvals she needs; Ada is an administrator; Eve has an unused enrolment
link. After each change, whatever it is, a new concern must satisfy:

- safety: no key but an approved guardian's or the genuine recovery key opens it (not an attacker's, not Cal's
  keys from before the reset, not Dan's, Pat's or Ada's), and the genuine recovery key always does;
- liveness: either the roster raised an alarm about the log itself, and then only the recovery key opens it, or
  every approved guardian whose own rows the change did not touch still opens it.

Between changes the staff side is put back exactly (and this server's roster anchor with it, which lives outside
the database and which a database writer cannot touch).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    Executable,
    Integer,
    LargeBinary,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, StatementError
from support.factories import gen_concern, gen_staff, safety_code_of
from support.present import get_row, present, scalar

from speakup.crypto import kem, sealing, signing
from speakup.domain import staff
from speakup.keys import account_keys, approvals, roster
from speakup.platform.models import Case, CaseGrant, User, db

STAFF_SIDE = [table for table in db.metadata.sorted_tables if table.name != "cases" and "case_id" not in table.columns]


@pytest.fixture
def app_overrides() -> dict[str, object]:
    return {"RATELIMIT_ENABLED": False}  # hundreds of concerns from one client, one after each change


def test_the_staff_side_is_read_from_the_schema():
    names = {table.name for table in STAFF_SIDE}
    assert {"users", "roster_log", "organisation_keys", "enrolments", "staff_sessions"} <= names
    assert not names & {"cases", "case_grants", "messages"}


@dataclass
class Installation:
    readers: dict[int, bytes]  # approved guardians: user id -> HPKE private key
    forbidden: dict[str, bytes]  # keys that must never open a new concern
    recovery_key: bytes
    earlier: dict[str, list[dict]]  # the staff side before Cal's reset, Dan's disabling and Pat's first approval
    now: dict[str, list[dict]]
    anchor_copy: Path
    anchor_file: Path
    attacker_hpke: bytes = b""
    attacker_signing: bytes = b""
    checked: list[str] = field(default_factory=list)


def _snapshot() -> dict[str, list[dict[str, Any]]]:
    return {table.name: [dict(row) for row in db.session.execute(select(table)).mappings()] for table in STAFF_SIDE}


def _key_of(table: Table, row: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(row[column.name] for column in table.primary_key.columns)


def _where(table: Table, row: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    return [column == row[column.name] for column in table.primary_key.columns]


def _put_back(snapshot: dict[str, list[dict[str, Any]]]) -> None:
    """Makes the staff side exactly ``snapshot``: rows added are deleted (children first), rows changed or deleted
    are written back (parents first)."""
    for table in reversed(STAFF_SIDE):
        wanted = {_key_of(table, row) for row in snapshot[table.name]}
        for stored in db.session.execute(select(table)).mappings().all():
            if _key_of(table, dict(stored)) not in wanted:
                db.session.execute(delete(table).where(*_where(table, dict(stored))))
    for table in STAFF_SIDE:
        present = {_key_of(table, dict(row)): dict(row) for row in db.session.execute(select(table)).mappings()}
        for row in snapshot[table.name]:
            current = present.get(_key_of(table, row))
            if current is None:
                db.session.execute(insert(table).values(**row))
            elif current != row:
                db.session.execute(update(table).where(*_where(table, row)).values(**row))
    db.session.commit()


def _install(app) -> Installation:
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    bea = gen_staff(app, email="bea@example.org", name="Bea Guardian")
    cal = gen_staff(app, email="cal@example.org", name="Cal Guardian")
    dan = gen_staff(app, email="dan@example.org", name="Dan Guardian")
    pat = gen_staff(app, email="pat@example.org", name="Pat Pending", approved=False)
    ada = gen_staff(app, email="ada@example.org", role="admin", name="Ada Admin")
    with app.app_context():
        unlocked = {
            person.email: account_keys.unlock_account(get_row(User, person.id), person.password).keys
            for person in (gita, bea, cal, dan, pat, ada)
        }
        db.session.rollback()
        earlier = _snapshot()
        admin = get_row(User, ada.id)
        staff.reset_account(get_row(User, cal.id), admin)
        staff.set_active(get_row(User, dan.id), False, admin)
        staff.invite_user("eve@example.org", "Eve Invited", "guardian", admin)
        pat_user = get_row(User, pat.id)
        approvals.approve_by_guardian(
            pat_user, get_row(User, bea.id), unlocked["bea@example.org"], safety_code_of(pat_user)
        )
        db.session.commit()
        assert (
            present(roster.current_roster().approvals_of(pat.id), "Pat's approvals").have == 1
        )  # waiting for a second approval
    client = app.test_client()
    gen_concern(client)  # the roster as it now is, verified and anchored
    attacker = kem.generate_keypair()
    with app.app_context():
        installation = Installation(
            readers={
                gita.id: unlocked["gita@example.org"].private_key,
                bea.id: unlocked["bea@example.org"].private_key,
            },
            forbidden={
                "attacker": attacker.private_bytes,
                "cal before the reset": unlocked["cal@example.org"].private_key,
                "dan, disabled": unlocked["dan@example.org"].private_key,
                "pat, pending": unlocked["pat@example.org"].private_key,
                "ada, administrator": unlocked["ada@example.org"].private_key,
            },
            recovery_key=app.config["TEST_RECOVERY_PRIVATE_KEY"],
            earlier=earlier,
            now=_snapshot(),
            anchor_copy=Path(app.config["ROSTER_ANCHOR_FILE"] + ".harness"),
            anchor_file=Path(app.config["ROSTER_ANCHOR_FILE"]),
            attacker_hpke=attacker.public_bytes,
            attacker_signing=signing.generate_signing_keypair().public_bytes,
        )
        assert set(roster.current_roster().members) == set(installation.readers)
    shutil.copyfile(installation.anchor_file, installation.anchor_copy)
    return installation


def _opens(wrapped: bytes, private_key: bytes, case_id: int) -> bool:
    try:
        kem.unwrap_case_key(wrapped, private_key, case_id)
    except sealing.DecryptionError:
        return False
    return True


def _check_new_concern(app, client, installation: Installation, touched: set[int], what: str) -> None:
    reference = gen_concern(client)["reference"]
    with app.app_context():
        case_id = scalar(select(Case.id).where(Case.reference == reference))
        grants = db.session.scalars(
            select(CaseGrant).where(CaseGrant.case_id == case_id, CaseGrant.recipient != "reporter")
        ).all()
        problem = roster.current_roster().problem
    for name, private_key in installation.forbidden.items():
        assert not any(_opens(g.wrapped_key, private_key, case_id) for g in grants), f"{what}: {name} opens it"
    recovery_grants = [g for g in grants if g.recipient == "recovery"]
    assert len(recovery_grants) == 1 and _opens(recovery_grants[0].wrapped_key, installation.recovery_key, case_id)
    guardian_grants = [g for g in grants if g.recipient == "guardian"]
    if problem is not None:
        assert guardian_grants == [], f"{what}: a roster alarm ({problem}) but guardians were given the key"
    else:
        for user_id, private_key in installation.readers.items():
            if user_id not in touched:
                opened = any(g.user_id == user_id and _opens(g.wrapped_key, private_key, case_id) for g in grants)
                assert opened, f"{what}: approved guardian {user_id} cannot open it, and no alarm was raised"
        others = [g for g in guardian_grants if g.user_id not in installation.readers]
        assert others == [], f"{what}: wrapped for accounts that are not approved guardians"
    installation.checked.append(what)


def _restore(app, installation: Installation) -> None:
    with app.app_context():
        db.session.rollback()
        _put_back(installation.now)
    shutil.copyfile(installation.anchor_copy, installation.anchor_file)


# --- The changes a database writer can make ------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    what: str
    statement: Executable
    touched: frozenset[int]


def _touched(table: Table, row: dict) -> frozenset[int]:
    """The accounts whose own rows a change to ``row`` touches: taking them off the roster is the change's right."""
    ids = {row.get("user_id")} if "user_id" in table.columns else set()
    if table.name == "users":
        ids.add(row["id"])
    return frozenset(i for i in ids if i is not None)


def _other_values(column_name: str, row: dict, rows: list[dict]) -> list[object]:
    seen: list[object] = []
    for other in rows:
        value = other[column_name]
        if value != row[column_name] and value not in seen:
            seen.append(value)
    return seen[:3]


def _replacements(table: Table, column, row: dict, rows: list[dict], installation: Installation) -> Iterator[tuple]:
    """(label, new value) for one column of one row: an attacker's key, another row's value, a flipped flag..."""
    value = row[column.name]
    for other in _other_values(column.name, row, rows):
        yield "another row's value", other
    if isinstance(column.type, LargeBinary):
        yield "an attacker's HPKE key", installation.attacker_hpke
        yield "an attacker's signing key", installation.attacker_signing
        if value:
            yield "the same bytes, one flipped", bytes([value[0] ^ 1]) + value[1:]
    elif isinstance(column.type, Boolean):
        yield "flipped", not value
    elif isinstance(column.type, Integer) and value is not None:
        yield "plus one", value + 1
    elif isinstance(column.type, String) and value:
        yield "changed", value + "x" if not value[-1].isalpha() else value[:-1] + ("a" if value[-1] != "a" else "b")
    elif isinstance(column.type, DateTime) and value is not None:
        yield "ten years earlier", value - timedelta(days=3650)
        yield "ten years later", value + timedelta(days=3650)
    if column.nullable and value is not None:
        yield "null", None


def _changes(table: Table, rows: list[dict], installation: Installation) -> Iterator[Change]:
    for row in rows:
        key = _key_of(table, row)
        touched = _touched(table, row)
        yield Change(f"{table.name} {key}: deleted", delete(table).where(*_where(table, row)), touched)
        copy = {name: value for name, value in row.items()}
        for column in table.primary_key.columns:
            copy[column.name] = max(_key_of(table, r)[0] for r in rows) + 100
        yield Change(f"{table.name} {key}: copied as a new row", insert(table).values(**copy), touched)
        for column in table.columns:
            for label, value in _replacements(table, column, row, rows, installation):
                statement = update(table).where(*_where(table, row)).values({column.name: value})
                yield Change(f"{table.name} {key}: {column.name} := {label}", statement, touched)


def _apply(app, statement: Executable) -> bool:
    """Makes the change in a transaction of its own; False when the database itself refuses it (a unique or
    foreign key a writer cannot get past with one statement)."""
    with app.app_context():
        try:
            db.session.execute(statement)
            db.session.commit()
        except (DBAPIError, StatementError):
            db.session.rollback()
            return False
    return True


def _run(app, client, installation: Installation, changes: Iterator[Change]) -> int:
    made = 0
    for change in changes:
        if _apply(app, change.statement):
            made += 1
            _check_new_concern(app, client, installation, set(change.touched), change.what)
        _restore(app, installation)
    return made


@pytest.mark.thorough  # hundreds of concerns, one after each change: a quarter of the quick loop's time
@pytest.mark.parametrize("table_name", [table.name for table in STAFF_SIDE])
def test_every_change_to_a_staff_side_table_leaves_the_decision_whole(app, client, table_name):
    installation = _install(app)
    table = db.metadata.tables[table_name]
    rows = installation.now[table_name]
    made = _run(app, client, installation, _changes(table, rows, installation))
    assert made >= len(rows)  # every row was at least deleted, or changed, and a concern raised after it


def _earlier_versions(installation: Installation) -> Iterator[Change]:
    for table in STAFF_SIDE:
        now = {_key_of(table, row): row for row in installation.now[table.name]}
        for row in installation.earlier[table.name]:
            current = now.get(_key_of(table, row))
            if current == row:
                continue
            statement = (
                insert(table).values(**row)
                if current is None
                else update(table).where(*_where(table, row)).values(**row)
            )
            what = f"{table.name} {_key_of(table, row)}: its earlier version put back"
            yield Change(what, statement, _touched(table, row))


def test_putting_back_an_earlier_version_of_any_row_leaves_the_decision_whole(app, client):
    installation = _install(app)
    made = _run(app, client, installation, _earlier_versions(installation))
    assert made >= 2
    assert any(what.startswith("users") for what in installation.checked)  # Cal's keys, Dan's active flag


def test_rolling_the_whole_staff_side_back_is_an_alarm_and_only_the_recovery_key_opens(app, client):
    installation = _install(app)
    with app.app_context():
        _put_back(installation.earlier)  # a backup from before Cal's reset and Dan's disabling, restored
    _check_new_concern(app, client, installation, set(), "the staff side rolled back")
    with app.app_context():
        assert roster.current_roster().problem is not None
