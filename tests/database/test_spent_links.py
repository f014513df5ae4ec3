"""Used enrolment links and revoked statistics tokens stay spent, whatever a database writer does (outside review 3
of issue 27, F2): a writer who also holds a used link (a mailbox, a mail log) cleared ``used_at`` and enrolled the
account again; one who held a revoked token cleared ``revoked_at``. Neither needed the pepper.

Now a link opens only as the audit chain records it (issued for this account, not since replaced, never used) and a
token is refused once the chain records its revocation; the chain cannot be rewritten without the pepper. Enumerated:
every column of the row, read from the schema, set to each value a writer might choose, and the whole row put back
as it was before it was spent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from support.factories import enrol, enrolment_path, gen_staff, signed_in_admin
from support.html import post_form
from support.present import scalar

from speakup.domain import enrolment
from speakup.ops import audit_chain
from speakup.platform import clock
from speakup.platform.models import AuditEvent, Enrolment, StatsToken, User, db
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


def _refused(app: Flask, token: str) -> bool:
    with app.test_request_context():
        try:
            enrolment.open_link(token)
        except enrolment.LinkUnusable:
            return True
    return False


def _token(path: str) -> str:
    return path.split("token=", 1)[1]


def test_a_used_link_stays_used_whatever_is_done_to_its_row(app: Flask) -> None:
    admin_client, admin = signed_in_admin(app)
    sent = post_form(admin_client, "/admin/invite", name="Nia New", email="nia@example.org", role="admin")
    page = admin_client.get(sent.headers["Location"]).get_data(as_text=True)
    token = _token(enrolment_path(page))
    with app.app_context():
        row_id = scalar(select(Enrolment.id))
        before = _row_values(Enrolment, row_id)
    enrolled = enrol(app, page)
    with app.app_context():
        kept = _row_values(User, enrolled.staff.id)
        ids = [admin.id, enrolled.staff.id]
        changed = [name for name in _each_writer_change(Enrolment, row_id, before, ids) if not _refused(app, token)]
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
    sent = post_form(admin_client, "/admin/invite", name="Nia New", email="nia@example.org", role="admin")
    first = _token(enrolment_path(admin_client.get(sent.headers["Location"]).get_data(as_text=True)))
    with app.app_context():
        user_id = scalar(select(User.id).where(User.email == "nia@example.org"))
        row_id = scalar(select(Enrolment.id))
        before = _row_values(Enrolment, row_id)
    assert post_form(admin_client, "/admin/", f"/admin/users/{user_id}/reset-password").status_code == 303
    with app.app_context():
        changes = _each_writer_change(Enrolment, row_id, before, [admin.id, user_id])
        changed = [name for name in changes if not _refused(app, first)]
        assert changed == []


def test_a_live_link_moved_to_another_account_opens_nothing(app: Flask) -> None:
    """The link for a newcomer, pointed by a writer at the administrator's account: it would have let them choose the
    administrator's password and security code."""
    admin_client, admin = signed_in_admin(app)
    sent = post_form(admin_client, "/admin/invite", name="Nia New", email="nia@example.org", role="guardian")
    token = _token(enrolment_path(admin_client.get(sent.headers["Location"]).get_data(as_text=True)))
    other = gen_staff(app, "gita@example.org")
    for victim in (admin.id, other.id):
        with app.app_context():
            db.session.execute(update(Enrolment).values(user_id=victim))
            db.session.commit()
            kept = _row_values(User, victim)
            assert _refused(app, token)
            assert _row_values(User, victim) == kept


def test_a_link_is_refused_once_its_hours_have_passed_by_the_chain_whatever_its_row_says(app: Flask) -> None:
    admin_client, _admin = signed_in_admin(app)
    sent = post_form(admin_client, "/admin/invite", name="Nia New", email="nia@example.org", role="admin")
    token = _token(enrolment_path(admin_client.get(sent.headers["Location"]).get_data(as_text=True)))
    with app.app_context():
        assert not _refused(app, token)
        clock.advance(timedelta(hours=float(app.config["ENROLMENT_HOURS"]), seconds=1))
        db.session.execute(update(Enrolment).values(expires_at=clock.utcnow() + timedelta(days=30)))
        db.session.commit()
        assert _refused(app, token)


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
    sent = post_form(admin_client, "/admin/invite", name="Nia New", email="nia@example.org", role="admin")
    enrol(app, admin_client.get(sent.headers["Location"]).get_data(as_text=True))
    gen_staff(app, "later@example.org", role="admin")  # something after it, so it is not the newest row
    with app.app_context():
        used = scalar(select(AuditEvent).where(AuditEvent.action == "account_enrolled"))
        assert "token_hash" in used.detail
        db.session.delete(used)
        db.session.commit()
        assert audit_chain.check_chain().broken is not None


@pytest.fixture(autouse=True)
def _no_clock_left_moved() -> Iterator[None]:
    yield
    clock.reset()
