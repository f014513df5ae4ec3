"""Retention: `flask speakup purge` crypto-shreds closed cases older than RETENTION_DAYS.

Cases are raised through the API and worked through the domain layer (notes, messages, themes, closing, feedback),
then moved back in time with plain SQL. The file test reads the SQLite database (and its WAL) as bytes: since
everything is encrypted the file never held the concern's plaintext, so it looks for the case's *ciphertext* and
wrapped keys instead, present before the purge and gone after it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text, update
from support.apps import install_organisation_keys, make_app
from support.factories import Staff, gen_concern, gen_staff
from support.html import AuthActions, post_form
from support.present import get_row, present, scalar, table_of

from speakup.crypto import labels, sealing
from speakup.domain import handling, quarters, references, retention, workflow
from speakup.keys import account_keys, grants, recovery
from speakup.ops import audit
from speakup.platform import clock
from speakup.platform.models import (
    Attachment,
    AuditEvent,
    Case,
    CaseExclusion,
    CaseGrant,
    CaseNote,
    CaseTheme,
    Message,
    ReporterSession,
    User,
    db,
)
from speakup.platform.models.roles import Author
from speakup.reporting import national_return, suppression

RATE = {"SUBMIT_RATE_LIMIT": "1000 per hour", "ACCESS_CODE_RATE_LIMIT": "1000 per minute"}
CHILDREN = (CaseGrant, Message, CaseNote, Attachment, ReporterSession, CaseExclusion)
# The plain fields the national return and board report count: a purge must leave every one as it was.
COUNTED = (
    "id",
    "reference",
    "status",
    "anonymity",
    "worker_group",
    "created_at",
    "acknowledge_by",
    "feedback_by",
    "acknowledged_at",
    "closed_at",
    "outcome",
    "speak_up_again",
    "detriment_reported",
    "feedback_at",
)


@pytest.fixture
def app_overrides() -> dict[str, object]:
    return dict(RATE)


# --- Seeding -----------------------------------------------------------------------------------


@dataclass
class Seeded:
    name: str
    reference: str
    code: str
    marker: str
    id: int = 0
    purge: bool = False
    closed: bool = True
    blobs: list[bytes] = field(default_factory=list)  # every ciphertext and wrapped key of the case


def _private_key(staff: Staff) -> bytes:
    user = get_row(User, staff.id)
    return account_keys.unlock_account(user, staff.password).private_key


def _seed_one(
    app: Flask, client: FlaskClient, staff: Staff, other: Staff, label: str, closed_days_ago: int | None, **concern
) -> Seeded:
    """Raises one case and works it: themes, note, message, learning, a file, an exclusion; closes it and
    answers the feedback question when ``closed_days_ago`` is given; then moves its dates back."""
    marker = f"marker-{label}-{secrets.token_hex(8)}"
    raised = gen_concern(client, what_happened=f"The night shift was left unsafe. {marker}", **concern)
    days = app.config["RETENTION_DAYS"]
    with app.app_context():
        case = present(references.case_by_reference(raised["reference"]), "case")
        user = get_row(User, staff.id)
        key = grants.guardian_case_key(case, user.id, _private_key(staff))
        handling.record_for_return(case, ["patient_safety", "bullying_harassment"], "students", "no", user, None)
        handling.add_note(case, key, user, f"Guardian note {marker}")
        handling.post_message(case, key, Author.GUARDIAN, f"Guardian message {marker}", user)
        handling.change_status(case, workflow.ACKNOWLEDGED, user)
        handling.change_status(case, workflow.IN_PROGRESS, user)
        uid = secrets.token_hex(16)
        db.session.add(
            Attachment(
                uid=uid,
                case_id=case.id,
                filename_ct=sealing.seal_text(key, "rota.jpg", labels.attachment_name(case.id, uid)),
                content_type="image/jpeg",
                size=600,
                body_ct=sealing.seal(key, secrets.token_bytes(600), labels.attachment(case.id, uid)),
                protocol=sealing.PROTOCOL,
            )
        )
        db.session.add(CaseExclusion(case_id=case.id, user_id=other.id))
        case.learning_ct = sealing.seal_text(key, f"Learning {marker}", labels.learning(case.id))
        case.learning_shareable = True
        db.session.commit()
        if closed_days_ago is not None:
            handling.close_case(case, key, user, "resolved", f"Closing message {marker}")
            handling.record_feedback(case, "yes", False)
        case_id = case.id
        # Back in time: raised 90 days before it closed (or long ago, for the open case).
        now = clock.utcnow()
        closed_at = now - timedelta(days=closed_days_ago) if closed_days_ago is not None else None
        created_at = (closed_at or now - timedelta(days=days + 400)) - timedelta(days=90)
        dates = {"created_at": created_at, "updated_at": closed_at or created_at, "acknowledged_at": created_at}
        if closed_at is not None:
            dates.update(closed_at=closed_at, feedback_at=closed_at + timedelta(days=1))
        db.session.execute(update(table_of(Case)).where(Case.__table__.c.id == case_id).values(**dates))
        db.session.commit()
    closed = closed_days_ago is not None
    return Seeded(label, raised["reference"], raised["access_code"], marker, case_id, closed=closed)


def seed(app: Flask, client: FlaskClient, staff: Staff) -> dict[str, Seeded]:
    """Two cases due for purging, one closed just inside the retention period, one old but still open."""
    other = gen_staff(app, "other@example.org", name="Otto Other")
    days = app.config["RETENTION_DAYS"]
    named = {"name": "Nadia Nurse", "contact": "ext 4242", "anonymity": "confidential"}
    seeded = {
        "old_confidential": _seed_one(app, client, staff, other, "old-confidential", days + 30, **named),
        "old_anonymous": _seed_one(app, client, staff, other, "old-anonymous", days + 1),
        "recent_closed": _seed_one(app, client, staff, other, "recent-closed", days - 1),
        "old_open": _seed_one(app, client, staff, other, "old-open", None),
    }
    seeded["old_confidential"].purge = seeded["old_anonymous"].purge = True
    with app.app_context():
        for item in seeded.values():
            item.blobs = _blobs_of(item.id)
    return seeded


def _blobs_of(case_id: int) -> list[bytes]:
    case = get_row(Case, case_id)
    blobs = [b for b in (case.concern_ct, case.identity_ct, case.learning_ct) if b]
    blobs += db.session.scalars(select(CaseGrant.wrapped_key).where(CaseGrant.case_id == case_id)).all()
    blobs += db.session.scalars(select(Message.body_ct).where(Message.case_id == case_id)).all()
    blobs += db.session.scalars(select(CaseNote.body_ct).where(CaseNote.case_id == case_id)).all()
    blobs += db.session.scalars(select(ReporterSession.case_key_ct).where(ReporterSession.case_id == case_id)).all()
    for name_ct, body_ct in db.session.execute(
        select(Attachment.filename_ct, Attachment.body_ct).where(Attachment.case_id == case_id)
    ):
        blobs += [name_ct, body_ct]
    return blobs


# --- What the database holds -----------------------------------------------------------------


def row_counts() -> dict[str, int]:
    return {table.name: scalar(select(func.count()).select_from(table)) for table in db.metadata.sorted_tables}


def counted_fields() -> dict[int, tuple]:
    columns = [getattr(Case, name) for name in COUNTED]
    return {row[0]: tuple(row) for row in db.session.execute(select(*columns).order_by(Case.id))}


def themes() -> list[tuple[int, str]]:
    return [
        (row.case_id, row.theme)
        for row in db.session.execute(select(CaseTheme.case_id, CaseTheme.theme).order_by("case_id"))
    ]


def full_row(case_id: int) -> dict[str, object]:
    row = db.session.execute(select(Case.__table__).where(Case.__table__.c.id == case_id)).mappings().one()
    return dict(row)


def child_counts(case_id: int) -> dict[str, int]:
    return {
        model.__tablename__: scalar(select(func.count()).select_from(model).where(model.case_id == case_id))
        for model in CHILDREN
    }


def quarter_measures(moment: datetime) -> dict[str, int]:
    """A few national-return measures for the quarter containing ``moment``, counted with plain SQL."""
    first_month = 3 * ((moment.month - 1) // 3) + 1
    start = datetime(moment.year, first_month, 1)
    end = datetime(moment.year + (first_month == 10), (first_month + 2) % 12 + 1, 1)
    in_quarter = (Case.created_at >= start, Case.created_at < end)
    return {
        "raised": scalar(select(func.count(Case.id)).where(*in_quarter)),
        "anonymous": scalar(select(func.count(Case.id)).where(*in_quarter, Case.anonymity == "anonymous")),
        "patient_safety": scalar(
            select(func.count(Case.id))
            .join(CaseTheme, CaseTheme.case_id == Case.id)
            .where(*in_quarter, CaseTheme.theme == "patient_safety")
        ),
        "would_speak_up_again": scalar(select(func.count(Case.id)).where(*in_quarter, Case.speak_up_again == "yes")),
        "students": scalar(select(func.count(Case.id)).where(*in_quarter, Case.worker_group == "students")),
    }


def reporter_api_status(app: Flask, code: str) -> int:
    return app.test_client().get("/api/v1/follow-up", headers={"Authorization": f"Bearer {code}"}).status_code


def recovery_opens(app: Flask, case_id: int, marker: str) -> bool:
    """Decrypts the concern with the offline recovery key, as `flask speakup recover` would."""
    case = get_row(Case, case_id)
    case_key = recovery.recovery_case_key(case, app.config["TEST_RECOVERY_PRIVATE_KEY"])
    concern = sealing.open_text(case_key, present(case.concern_ct, "concern"), labels.concern(case.id))
    return marker in json.loads(concern)["what_happened"]


# --- Choosing what goes ------------------------------------------------------------------------


def test_only_closed_cases_older_than_the_retention_period_are_candidates(app, client, guardian):
    seeded = seed(app, client, guardian)
    with app.app_context():
        found = [case.reference for case in retention.purge_candidates(clock.utcnow())]
        # Oldest closed first; the case closed a day inside the period and the old open case stay.
        assert found == [seeded["old_confidential"].reference, seeded["old_anonymous"].reference]
        # A day later the recent case is still inside; two days later it is due.
        later = [case.reference for case in retention.purge_candidates(clock.utcnow() + timedelta(days=2))]
        assert seeded["recent_closed"].reference in later and seeded["old_open"].reference not in later


def test_retention_days_defaults_to_six_years(app):
    assert app.config["RETENTION_DAYS"] == 2190


@pytest.mark.parametrize("bad", [0, -1, "2190", None])
def test_a_nonsense_retention_period_purges_nothing(app, client, guardian, runner, bad):
    seed(app, client, guardian)
    app.config["RETENTION_DAYS"] = bad
    with app.app_context():
        before = row_counts()
    result = runner.invoke(args=["speakup", "purge"])
    assert result.exit_code != 0 and "RETENTION_DAYS" in result.output
    with app.app_context():
        assert row_counts() == before


# --- Dry run ---------------------------------------------------------------------------------------


def test_the_dry_run_lists_what_would_go_and_changes_nothing(app, client, guardian, runner):
    seeded = seed(app, client, guardian)
    with app.app_context():
        before = (row_counts(), {item.id: full_row(item.id) for item in seeded.values()}, themes())
    result = runner.invoke(args=["speakup", "purge", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "2 cases" in result.output and "would be purged" in result.output and "Nothing was changed" in result.output
    with app.app_context():
        for item in seeded.values():
            closed = get_row(Case, item.id).closed_at
            line = f"{item.reference}  closed {clock.uk_date(closed).isoformat()}" if closed else item.reference
            assert (line in result.output) == item.purge, (item.name, result.output)
        assert (row_counts(), {item.id: full_row(item.id) for item in seeded.values()}, themes()) == before
    # Still opens for its reporter.
    assert reporter_api_status(app, seeded["old_confidential"].code) == 200


# --- The purge ---------------------------------------------------------------------------------------


def test_purge_shreds_old_closed_cases_and_keeps_what_is_counted(app, client, guardian, runner):
    seeded = seed(app, client, guardian)
    old, kept = seeded["old_confidential"], seeded["recent_closed"]
    reporter = app.test_client()  # a reporter signed in to the old case on the HTML pages
    assert post_form(reporter, "/follow-up", access_code=old.code).status_code == 303
    staff = app.test_client()
    assert AuthActions(staff).sign_in(guardian).status_code == 303
    assert staff.get(f"/guardian/cases/{old.reference}").status_code == 200

    with app.app_context():
        created = get_row(Case, old.id).created_at
        before_counted, before_themes, before_quarter = counted_fields(), themes(), quarter_measures(created)
        assert before_quarter["raised"] >= 1 and before_quarter["patient_safety"] >= 1
        untouched = {item.id: (full_row(item.id), child_counts(item.id)) for item in seeded.values() if not item.purge}
        purged_children = {item.id: child_counts(item.id) for item in seeded.values() if item.purge}
        old_lookup = get_row(Case, old.id).access_lookup_id
        assert recovery_opens(app, old.id, old.marker)
        audit_before = db.session.scalar(select(func.max(AuditEvent.id)))
    # Something to delete in every child table, so "deleted" below means something.
    assert all(count >= 1 for count in purged_children[old.id].values()), purged_children

    result = runner.invoke(args=["speakup", "purge"])
    assert result.exit_code == 0, result.output
    assert "Purged 2 cases" in result.output

    with app.app_context():
        for item in seeded.values():
            case = get_row(Case, item.id)
            if not item.purge:
                # Open or inside the period: nothing of it changed.
                assert (full_row(item.id), child_counts(item.id)) == untouched[item.id], item.name
                continue
            assert case.purged_at is not None
            assert (case.concern_ct, case.identity_ct, case.learning_ct) == (None, None, None)
            assert case.learning_shareable is False
            assert child_counts(item.id) == dict.fromkeys(child_counts(item.id), 0), item.name
        assert get_row(Case, old.id).access_lookup_id != old_lookup
        with pytest.raises(grants.NoGrant):
            recovery_opens(app, old.id, old.marker)
        # Past quarters count the same.
        assert counted_fields() == before_counted
        assert themes() == before_themes
        assert quarter_measures(created) == before_quarter
        # Audited: one event per case and one for the run, and the chain holds.
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.id > audit_before).order_by(AuditEvent.id)
        ).all()
        assert [(e.action, e.actor_type, e.case_id) for e in events] == [
            (audit.Action.CASES_PURGED, "system", old.id),
            (audit.Action.CASES_PURGED, "system", seeded["old_anonymous"].id),
            (audit.Action.CASES_PURGED, "system", None),
        ]
        assert audit.detail_of(events[-1]) == {"count": 2}
        assert audit.check_chain().broken is None

    # The reporter's code opens nothing now, on the API and on the HTML pages; the kept case still opens.
    assert reporter_api_status(app, old.code) == 401
    assert reporter_api_status(app, seeded["old_anonymous"].code) == 401
    assert reporter_api_status(app, kept.code) == 200
    page = reporter.get("/follow-up/case")
    assert page.status_code == 302 and page.headers["Location"].endswith("/follow-up")
    stranger = app.test_client()
    refused = post_form(stranger, "/follow-up", access_code=old.code)
    assert refused.status_code == 303 and refused.location == "/follow-up"
    refused_page = stranger.get(refused.location).get_data(as_text=True)  # holds the code typed: never printed
    said_so = "We could not find a concern with that access code" in refused_page
    shows_the_case = old.marker in refused_page
    assert said_so and not shows_the_case, (said_so, shows_the_case)
    # The guardian gets a refusal page, not an error: no key is left to open the case with.
    gone = staff.get(f"/guardian/cases/{old.reference}")
    assert gone.status_code in (403, 404, 410), gone.status_code
    assert old.marker not in gone.get_data(as_text=True)
    assert staff.get(f"/guardian/cases/{kept.reference}").status_code == 200

    # Nothing more is due: a second run purges nothing, and is audited too.
    again = runner.invoke(args=["speakup", "purge"])
    assert again.exit_code == 0 and "Purged 0 cases" in again.output
    with app.app_context():
        last = scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
        assert (last.action, last.case_id, audit.detail_of(last)) == (audit.Action.CASES_PURGED, None, {"count": 0})


def test_the_national_return_of_past_quarters_is_the_same_after_a_purge(app, client, guardian):
    seeded = seed(app, client, guardian)
    with app.app_context():
        moments = [moment for item in seeded.values() for moment in _dates_of(item.id)]
        periods = sorted({quarters.quarter_of(clock.uk_date(moment)) for moment in moments}, key=str)
        before = {str(quarter): national_return.national_return(quarter) for quarter in periods}
        assert any(m.key == suppression.CASES_RAISED and m.value for rows in before.values() for m in rows)
        result = retention.purge(retention.purge_candidates(clock.utcnow()), dry_run=False)
        assert result.count == 2
        assert {str(quarter): national_return.national_return(quarter) for quarter in periods} == before


def _dates_of(case_id: int) -> list[datetime]:
    case = get_row(Case, case_id)
    return [moment for moment in (case.created_at, case.closed_at, case.feedback_at) if moment is not None]


def test_purge_refuses_a_case_that_is_not_due(app, client, guardian):
    seeded = seed(app, client, guardian)
    with app.app_context():
        before = row_counts()
        for name in ("old_open", "recent_closed"):
            with pytest.raises(ValueError, match="not due"):
                retention.purge([get_row(Case, seeded[name].id)], dry_run=False)
        assert row_counts() == before


def test_a_case_reopened_during_the_purge_stops_it(app, client, guardian):
    seeded = seed(app, client, guardian)
    with app.app_context():
        candidates = retention.purge_candidates(clock.utcnow())
        before = row_counts()
        # Another request changes one of them between choosing and purging (its version moves on).
        target = seeded["old_anonymous"].id
        with db.engine.begin() as other:
            other.execute(text("UPDATE cases SET version = version + 1 WHERE id = :id"), {"id": target})
        with pytest.raises(retention.PurgeConflict):
            retention.purge(candidates, dry_run=False)
        assert row_counts() == before
        assert db.session.scalars(select(Case.purged_at)).all() == [None] * len(seeded)


# --- SQLite: nothing left in the file --------------------------------------------------------------


@pytest.fixture(params=["delete", "wal"])
def file_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Flask, Path]]:
    """An app on its own SQLite file, in rollback-journal or WAL mode."""
    path = tmp_path / "retention.sqlite"
    app = make_app(f"sqlite:///{path}", SQLITE_JOURNAL_MODE=request.param, **RATE)
    with app.app_context():
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == request.param
    install_organisation_keys(app)
    yield app, path
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _database_bytes(path: Path) -> bytes:
    """The database file and whatever SQLite keeps beside it (WAL, rollback journal)."""
    parts = [path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-journal"))]
    return b"".join(part.read_bytes() for part in parts if part.exists())


def _found(blob: bytes, haystack: bytes) -> list[int]:
    """Offsets of the 32-byte pieces of ``blob`` found in ``haystack``: any remnant counts, not only the whole."""
    return [start for start in range(0, len(blob) - 31, 32) if blob[start : start + 32] in haystack]


def test_a_purged_case_leaves_no_ciphertext_in_the_sqlite_file(file_app):
    app, path = file_app
    client = app.test_client()
    staff = gen_staff(app, "guardian@example.org")
    seeded = seed(app, client, staff)
    reporter = app.test_client()  # its sealed case key sits in reporter_sessions
    assert post_form(reporter, "/follow-up", access_code=seeded["old_confidential"].code).status_code == 303
    purged = [item for item in seeded.values() if item.purge]
    kept = [item for item in seeded.values() if not item.purge]
    wal = path.with_name(path.name + "-wal")
    with app.app_context():
        for item in seeded.values():
            item.blobs = _blobs_of(item.id)
            # The marker really is in the case: the recovery key decrypts it.
            assert recovery_opens(app, item.id, item.marker)
        assert db.session.scalar(select(func.count()).select_from(ReporterSession)) == 1
        journal_mode = db.session.execute(text("PRAGMA journal_mode")).scalar()
    assert len(purged) == 2 and all(len(item.blobs) >= 8 for item in purged)
    if journal_mode == "wal":
        assert wal.exists() and wal.stat().st_size > 0, "no WAL to search"

    before = _database_bytes(path)
    # The file never holds plaintext: every concern is encrypted.
    assert all(item.marker.encode() not in before for item in seeded.values())
    # It does hold the ciphertext and wrapped keys, whole.
    for item in seeded.values():
        for blob in item.blobs:
            assert blob in before, f"{item.name}: a ciphertext is not in the file before the purge"

    with app.app_context():
        result = retention.purge(retention.purge_candidates(clock.utcnow()), dry_run=False)
        assert result.count == 2
        assert result.wal_truncated is (True if journal_mode == "wal" else None)
    if journal_mode == "wal":
        assert wal.stat().st_size == 0

    after = _database_bytes(path)
    for item in purged:
        for blob in item.blobs:
            assert not _found(blob, after), f"{item.name}: ciphertext left in the file after the purge"
    # The file was read properly: the cases kept are still there, whole.
    for item in kept:
        for blob in item.blobs:
            assert blob in after, f"{item.name}: a kept case lost a ciphertext"
