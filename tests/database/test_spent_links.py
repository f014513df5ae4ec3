"""Used enrolment links and revoked statistics tokens stay spent, whatever a database writer does (outside review 3
of issue 27, F2): a writer who also holds a used link (a mailbox, a mail log) cleared ``used_at`` and enrolled the
account again; one who held a revoked token cleared ``revoked_at``. Neither needed the pepper.

Now a link opens only as the audit chain records it (issued for this account, not since replaced, never used) and a
token is refused once the chain records its revocation; the chain cannot be rewritten without the pepper. Enumerated:
every column of the row, read from the schema, set to each value a writer might choose, and the whole row put back
as it was before it was spent."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Executable, Table, delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError
from support.checkpoints import take_checkpoint
from support.factories import enrol, enrolment_path, gen_staff, invite, link_refused, link_token, signed_in_admin
from support.html import post_form
from support.present import scalar, table_of

from speakup.domain import enrolment
from speakup.keys import roster_log
from speakup.ops import audit_chain
from speakup.platform import clock
from speakup.platform.models import AuditEvent, Enrolment, RosterEntry, StatsToken, User, db
from speakup.reporting import stats_tokens

API_STATS = "/api/v1/stats?quarter=2026Q2"


def _row_values(model: Any, row_id: int) -> dict[str, Any]:
    row = db.session.get(model, row_id)
    return {column.name: getattr(row, column.name) for column in model.__table__.columns}


def _writer_values(column: Any, before: dict[str, Any], ids: list[int]) -> Iterator[object]:
    """What a database writer might put in one column: nothing, the value it had before the link or token was spent,
    another account's id, a time far off either way."""
    yield None
    yield before[column.name]
    python_type = column.type.python_type
    if python_type is int:
        yield from ids
    elif column.name.endswith("_at"):
        now = clock.utcnow()
        yield from (now - timedelta(days=3650), now + timedelta(days=3650), now)
    elif python_type is str:
        yield ""


def _each_writer_change(model: Any, row_id: int, before: dict[str, Any], ids: list[int]) -> Iterator[str]:
    """Sets each column of the row to each value in turn, the rest as they are now; then every column at once back to
    ``before`` (the row put back from a copy made before it was spent). Yields a name for what it did, with the
    change committed; the row is as it was again after each."""
    after = _row_values(model, row_id)
    changes = [
        (f"{column.name}={value!r}", {column.name: value})
        for column in model.__table__.columns
        if column.name != "id"
        for value in _writer_values(column, before, ids)
    ]
    changes.append(("the row put back from before", {k: v for k, v in before.items() if k != "id"}))
    for name, values in changes:
        try:
            db.session.execute(update(model).where(model.id == row_id).values(**values))
            db.session.commit()
        except DBAPIError:  # the schema refuses it (a NOT NULL column, a foreign key): nothing to attack
            db.session.rollback()
            continue
        yield name
        db.session.execute(update(model).where(model.id == row_id).values(**after))
        db.session.commit()


def test_a_used_link_stays_used_whatever_is_done_to_its_row(app: Flask) -> None:
    admin_client, admin = signed_in_admin(app)
    page, token = invite(admin_client, "nia@example.org")
    with app.app_context():
        row_id = scalar(select(Enrolment.id))
        before = _row_values(Enrolment, row_id)
    enrolled = enrol(app, page)
    with app.app_context():
        kept = _row_values(User, enrolled.staff.id)
        ids = [admin.id, enrolled.staff.id]
        changes = _each_writer_change(Enrolment, row_id, before, ids)
        changed = [name for name in changes if not link_refused(app, token)]
        assert changed == []
        assert _row_values(User, enrolled.staff.id) == kept
    # And through the page, with the whole row put back: the person is told the link was used.
    with app.app_context():
        db.session.execute(update(Enrolment).where(Enrolment.id == row_id).values(used_at=None))
        db.session.commit()
    again = app.test_client().get(enrolment_path(page))
    assert again.status_code == 410 and "This link has already been used" in again.get_data(as_text=True)


def test_a_replaced_link_stays_replaced_whatever_is_done_to_its_row(app: Flask) -> None:
    admin_client, admin = signed_in_admin(app)
    _page, first = invite(admin_client, "nia@example.org")
    with app.app_context():
        user_id = scalar(select(User.id).where(User.email == "nia@example.org"))
        row_id = scalar(select(Enrolment.id))
        before = _row_values(Enrolment, row_id)
    assert post_form(admin_client, "/admin/", f"/admin/users/{user_id}/reset-password").status_code == 303
    with app.app_context():
        changes = _each_writer_change(Enrolment, row_id, before, [admin.id, user_id])
        changed = [name for name in changes if not link_refused(app, first)]
        assert changed == []


def test_a_live_link_moved_to_another_account_opens_nothing(app: Flask) -> None:
    """The link for a newcomer, pointed by a writer at the administrator's account: it would have let them choose the
    administrator's password and security code."""
    admin_client, admin = signed_in_admin(app)
    _page, token = invite(admin_client, "nia@example.org", role="guardian")
    other = gen_staff(app, "gita@example.org")
    for victim in (admin.id, other.id):
        with app.app_context():
            db.session.execute(update(Enrolment).values(user_id=victim))
            db.session.commit()
            kept = _row_values(User, victim)
            assert link_refused(app, token)
            assert _row_values(User, victim) == kept


def test_a_link_is_refused_once_its_hours_have_passed_by_the_chain_whatever_its_row_says(app: Flask) -> None:
    admin_client, _admin = signed_in_admin(app)
    _page, token = invite(admin_client, "nia@example.org")
    with app.app_context():
        assert not link_refused(app, token)
        clock.advance(timedelta(hours=float(app.config["ENROLMENT_HOURS"]), seconds=1))
        db.session.execute(update(Enrolment).values(expires_at=clock.utcnow() + timedelta(days=30)))
        db.session.commit()
        assert link_refused(app, token)


def _stats_status(app: Flask, token: str) -> int:
    client = app.test_client(use_cookies=False)
    return client.get(API_STATS, headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_revoked_statistics_token_stays_revoked_whatever_is_done_to_its_row(app: Flask, runner: Any) -> None:
    made = runner.invoke(args=["speakup", "stats-token", "create", "--name", "board dashboard"])
    token = made.output.split("stats-token: ", 1)[1].split()[0]
    assert _stats_status(app, token) == 200
    with app.app_context():
        row_id = scalar(select(StatsToken.id))
        before = _row_values(StatsToken, row_id)
    assert runner.invoke(args=["speakup", "stats-token", "revoke", "--name", "board dashboard"]).exit_code == 0
    with app.app_context():
        pepper = app.config["TOKEN_PEPPER_BYTES"]
        changed = [
            name
            for name in _each_writer_change(StatsToken, row_id, before, [row_id])
            if stats_tokens.find_stats_token(token, pepper) is not None
        ]
        assert changed == []
        db.session.execute(update(StatsToken).values(revoked_at=None))
        db.session.commit()
    assert _stats_status(app, token) == 401


def test_removing_the_record_of_a_spent_link_breaks_the_audit_chain(app: Flask) -> None:
    """What the refusals rest on: the record that a link was used cannot be deleted or edited without the chain
    saying so (`speakup audit verify`, the daily `speakup-verify`)."""
    admin_client, _admin = signed_in_admin(app)
    page, _link = invite(admin_client, "nia@example.org")
    enrol(app, page)
    gen_staff(app, "later@example.org", role="admin")  # something after it, so it is not the newest row
    with app.app_context():
        used = scalar(select(AuditEvent).where(AuditEvent.action == "account_enrolled"))
        assert "token_hash" in used.detail
        db.session.delete(used)
        db.session.commit()
        assert audit_chain.check_chain().broken is not None




# --- Outside review r4 of issue 27, F1: the audit rows cut back, edited or put back -----------------------------------
# The chain is checked only afterwards (`speakup audit verify`), and its tail is anchored nowhere at request time. So
# the decision rests on the roster log, which every server anchors outside the database: a link's issue (for which
# account, proven under the pepper), its use and a token's revocation are entries of it.


@dataclass
class Spent:
    used: str  # Nia's link, used
    replaced: str  # Bob's first link, replaced by a reset
    live: str  # Bob's second link, unused
    token: str  # a statistics token, revoked
    bob: int


def _spend_everything(app: Flask, runner: Any) -> Spent:
    admin_client, _admin = signed_in_admin(app)
    page, used = invite(admin_client, "nia@example.org")
    enrol(app, page)
    _page, replaced = invite(admin_client, "bob@example.org")
    with app.app_context():
        bob = scalar(select(User.id).where(User.email == "bob@example.org"))
    reset = post_form(admin_client, "/admin/", f"/admin/users/{bob}/reset-password")
    live = link_token(admin_client.get(reset.headers["Location"]).get_data(as_text=True))
    made = runner.invoke(args=["speakup", "stats-token", "create", "--name", "board dashboard"])
    token = made.output.split("stats-token: ", 1)[1].split()[0]
    assert runner.invoke(args=["speakup", "stats-token", "revoke", "--name", "board dashboard"]).exit_code == 0
    return Spent(used, replaced, live, token, bob)


def _clear_the_rows(app: Flask, tail_from: str | None = None) -> None:
    """What the reviewer did to the rows: every spent mark cleared, and the audit rows that recorded them deleted
    (``tail_from``: that row and every row after it, as a cut-back tail)."""
    with app.app_context():
        actions = ("account_enrolled", "stats_token_revoked", "enrolment_link_issued")
        if tail_from is not None:
            first = scalar(select(func.min(AuditEvent.id)).where(AuditEvent.action == tail_from))
            db.session.execute(delete(AuditEvent).where(AuditEvent.id >= first))
        else:
            db.session.execute(delete(AuditEvent).where(AuditEvent.action.in_(actions)))
        later = clock.utcnow() + timedelta(days=30)
        db.session.execute(update(Enrolment).values(used_at=None, expires_at=later))
        db.session.execute(update(StatsToken).values(revoked_at=None))
        db.session.commit()


def _all_refused(app: Flask, spent: Spent) -> list[str]:
    """Which of the spent link and token the service takes (each one it takes is a failure)."""
    taken = [name for name in ("used", "replaced") if not link_refused(app, getattr(spent, name))]
    if _stats_status(app, spent.token) == 200:
        taken.append("token")
    return taken


@pytest.mark.parametrize("tail_from", [None, "account_enrolled", "enrolment_link_issued", "stats_token_revoked"])
def test_spent_links_and_tokens_stay_spent_with_the_audit_rows_deleted(app: Flask, runner: Any, tail_from) -> None:
    """The reviewer's steps: the use row and every row after it deleted, and used_at cleared; the new link's issue
    row deleted and the old link's expires_at moved; the revocation rows deleted and revoked_at cleared."""
    spent = _spend_everything(app, runner)
    _clear_the_rows(app, tail_from)
    assert _all_refused(app, spent) == []
    page = app.test_client().get(f"/enrol?token={spent.used}")
    assert page.status_code == 410 and "This link has already been used" in page.get_data(as_text=True)
    assert _stats_status(app, spent.token) == 401


@pytest.mark.parametrize("column", ["action", "detail"])
def test_spent_links_and_tokens_stay_spent_with_the_audit_rows_edited(app: Flask, runner: Any, column: str) -> None:
    spent = _spend_everything(app, runner)
    with app.app_context():
        for action in ("account_enrolled", "stats_token_revoked", "enrolment_link_issued"):
            value = {"action": "case_viewed", "detail": '{"token_hash": "0"}'}[column]
            db.session.execute(update(AuditEvent).where(AuditEvent.action == action).values({column: value}))
        db.session.commit()
    _clear_the_rows(app)
    assert _all_refused(app, spent) == []


def _log_rows() -> list[dict[str, Any]]:
    return [dict(row) for row in db.session.execute(select(table_of(RosterEntry))).mappings()]


def _entry(kind: str, index: int = -1) -> dict[str, Any]:
    return [row for row in _log_rows() if row["kind"] == kind][index]


def _put_log_back(rows: list[dict[str, Any]]) -> None:
    db.session.execute(delete(RosterEntry))
    db.session.execute(insert(table_of(RosterEntry)), rows)
    db.session.commit()


def _log_changes(spent: Spent) -> Iterator[tuple[str, Executable | Callable[[], object]]]:
    """Every change a database writer can make to the roster entries that spent the link or token."""
    for kind in ("link_used", "link_issued", "token_revoked"):
        entry = _entry(kind)
        seq = entry["seq"]
        this = update(RosterEntry).where(RosterEntry.seq == seq)
        yield f"{kind} deleted", delete(RosterEntry).where(RosterEntry.seq == seq)
        yield f"{kind} and every entry after it deleted", delete(RosterEntry).where(RosterEntry.seq >= seq)
        earlier = [row for row in _log_rows() if row["seq"] < seq][-1]
        older = {name: earlier[name] for name in ("kind", "user_id", "statement", "signature")}
        yield f"{kind} replaced by the entry before it", this.values(**older)
        statement = json.loads(entry["statement"])
        for field_name in sorted(statement):
            edited = {**statement, field_name: "0" if isinstance(statement[field_name], str) else None}
            text = json.dumps(edited, sort_keys=True, separators=(",", ":")).encode()
            yield f"{kind}'s statement {field_name} edited", this.values(statement=text)
        for column, values in (
            ("seq", [seq + 1000]),
            ("kind", ["added", "checkpoint", "nonsense"]),
            ("user_id", [None, spent.bob, 1]),
            ("signature", [b"x" * 64]),
            ("created_at", [datetime(2020, 1, 1)]),
        ):
            for value in values:
                yield f"{kind}'s {column}={value!r}", this.values({column: value})
    first = json.loads(_entry("link_issued", -2)["statement"])

    def issued_again() -> None:
        body = {name: first[name] for name in first if name not in roster_log.ENVELOPE}
        roster_log.append(roster_log.LINK_ISSUED, spent.bob, body)

    yield "the replaced link issued again, its proof copied", issued_again


def test_the_roster_entries_that_spent_a_link_or_token_cannot_be_undone(app: Flask, runner: Any) -> None:
    """Each entry (the use, the replacing link's issue, the revocation) deleted, cut back, replaced by an older one,
    each field of its statement and each column edited, and the replaced link issued again: each is a roster alarm
    or changes nothing, and with every row cleared as well the link and token stay refused."""
    spent = _spend_everything(app, runner)
    _clear_the_rows(app)
    anchor_file = Path(app.config["ROSTER_ANCHOR_FILE"])
    with app.app_context():
        rows, anchored = _log_rows(), anchor_file.read_bytes()
        changes = list(_log_changes(spent))
    assert len(changes) > 30
    taken = []
    for name, change in changes:
        with app.app_context():
            try:
                change() if callable(change) else db.session.execute(change)
                db.session.commit()
            except DBAPIError:
                db.session.rollback()
                continue
            app.extensions.pop("speakup_roster", None)
        taken += [f"{name}: {what}" for what in _all_refused(app, spent)]
        with app.app_context():
            _put_log_back(rows)
        anchor_file.write_bytes(anchored)
        app.extensions.pop("speakup_roster", None)
    assert taken == []
    assert not link_refused(app, spent.live)  # the log as it was: the live link still opens


@pytest.mark.parametrize("what", ["link", "token"])
def test_the_entry_that_spends_a_link_or_token_is_anchored_at_once(app: Flask, runner: Any, what: str) -> None:
    """The log's tail cut back to before the use (or the revocation) is still a whole chain: only the anchor, moved
    by the request (or command) that appended the entry right after its commit, tells it was there."""
    if what == "link":
        admin_client, _admin = signed_in_admin(app)
        page, used = invite(admin_client, "nia@example.org")
        enrol(app, page)
    else:
        made = runner.invoke(args=["speakup", "stats-token", "create", "--name", "board dashboard"])
        token = made.output.split("stats-token: ", 1)[1].split()[0]
        assert runner.invoke(args=["speakup", "stats-token", "revoke", "--name", "board dashboard"]).exit_code == 0
    kind = {"link": "link_used", "token": "token_revoked"}[what]
    with app.app_context():
        assert _entry(kind) == _log_rows()[-1]
        db.session.execute(delete(RosterEntry).where(RosterEntry.seq >= _entry(kind)["seq"]))
        db.session.commit()
    _clear_the_rows(app)
    app.extensions.pop("speakup_roster", None)  # this process verifies afresh: only the anchor remembers
    assert link_refused(app, used) if what == "link" else _stats_status(app, token) == 503


def _staff_tables() -> list[Table]:
    return [table_of(model) for model in (User, Enrolment, StatsToken, RosterEntry, AuditEvent)]


def test_a_whole_older_copy_of_the_staff_tables_put_back_opens_nothing(app: Flask, runner: Any) -> None:
    """A copy taken after the links were issued and the token made, before any was spent, put back afterwards."""
    admin_client, _admin = signed_in_admin(app)
    page, used = invite(admin_client, "nia@example.org")
    _page, replaced = invite(admin_client, "bob@example.org")
    made = runner.invoke(args=["speakup", "stats-token", "create", "--name", "board dashboard"])
    token = made.output.split("stats-token: ", 1)[1].split()[0]
    with app.app_context():
        bob = scalar(select(User.id).where(User.email == "bob@example.org"))
        copy = {table.name: [dict(row) for row in db.session.execute(select(table)).mappings()]
                for table in _staff_tables()}  # fmt: skip
    enrol(app, page)
    assert post_form(admin_client, "/admin/", f"/admin/users/{bob}/reset-password").status_code == 303
    assert runner.invoke(args=["speakup", "stats-token", "revoke", "--name", "board dashboard"]).exit_code == 0
    with app.app_context():
        for table in reversed(_staff_tables()):
            keys = {row["id"] if "id" in row else row["seq"] for row in copy[table.name]}
            key = table.c.id if "id" in table.c else table.c.seq
            db.session.execute(delete(table).where(key.not_in(keys)))
        for table in _staff_tables():
            key = table.c.id if "id" in table.c else table.c.seq
            for row in copy[table.name]:
                db.session.execute(update(table).where(key == row[key.name]).values(**row))
        db.session.commit()
    assert link_refused(app, used) and link_refused(app, replaced)
    assert _stats_status(app, token) != 200


@pytest.mark.parametrize("command", ["roster accept", "rotate-recovery-key"])
def test_a_checkpoint_keeps_a_revoked_token_revoked(app: Flask, runner: Any, tmp_path: Path, command: str) -> None:
    """A checkpoint starts the replay afresh: it names the revoked tokens. `roster accept` after an alarm (here the
    log cut back to before the revocation) adds those the audit trail and the rows record; a rotation carries the
    live links too, while `accept` carries none (reset the account for a new link)."""
    spent = _spend_everything(app, runner)
    if command == "roster accept":
        with app.app_context():
            db.session.execute(delete(RosterEntry).where(RosterEntry.seq >= _entry("token_revoked")["seq"]))
            db.session.commit()
    take_checkpoint(app, runner, tmp_path, command)
    _clear_the_rows(app)
    assert _all_refused(app, spent) == []
    assert link_refused(app, spent.live) == (command == "roster accept")


def test_during_a_roster_alarm_no_link_opens_and_no_token_is_taken(app: Flask, runner: Any) -> None:
    spent = _spend_everything(app, runner)
    with app.app_context():
        db.session.execute(delete(RosterEntry).where(RosterEntry.seq == _entry("link_issued")["seq"]))
        db.session.commit()
    app.extensions.pop("speakup_roster", None)  # seen at once here; within RECHECK_SECONDS anyway
    page = app.test_client().get(f"/enrol?token={spent.live}")
    assert page.status_code == 503 and "try again later" in page.get_data(as_text=True).lower()
    made = runner.invoke(args=["speakup", "stats-token", "create", "--name", "another"])
    assert _stats_status(app, made.output.split("stats-token: ", 1)[1].split()[0]) == 503
    assert _stats_status(app, "not-a-token") == 401


def test_a_link_the_roster_log_does_not_name_opens_nothing(app: Flask) -> None:
    """A link issued before this release (no `link_issued` entry): reset the account for a new one."""
    user = gen_staff(app, "pending@example.org", role="admin")
    token = "a-link-from-an-earlier-release"
    with app.app_context():
        now = clock.utcnow()
        token_hash = enrolment._token_hash(token)
        db.session.add(Enrolment(user_id=user.id, token_hash=token_hash, created_at=now,
                                 expires_at=now + timedelta(hours=1)))  # fmt: skip
        db.session.commit()
    assert link_refused(app, token)


def test_the_token_list_says_what_the_service_decides(app: Flask, runner: Any) -> None:
    """Outside review r4, F5: the list read revoked_at, so a token un-revoked in the database showed as active."""
    _spend_everything(app, runner)
    _clear_the_rows(app)
    listed = runner.invoke(args=["speakup", "stats-token", "list"])
    assert "board dashboard" in listed.output and "active" not in listed.output
    assert "revoked" in listed.output


@pytest.fixture(autouse=True)
def _no_clock_left_moved() -> Iterator[None]:
    yield
    clock.reset()
