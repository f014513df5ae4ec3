"""A person who lost their access code: the guardian of a confidential or open case gives them a new one (issue 26,
point 3). The old code opens nothing from that moment, the new one is shown once on a slip, the person's timeline and
the audit trail say so; an anonymous case's guardian cannot, as nobody can check who is asking."""

from __future__ import annotations

import json
from datetime import datetime
from unittest.mock import patch

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Table, delete, select, update
from support.checkpoints import take_checkpoint
from support.factories import gen_concern, gen_staff
from support.html import ACCESS_CODE_RE, csrf_token, following_up, post_form
from support.present import found, present, scalar, table_of

from speakup.crypto import labels, sealing
from speakup.keys import grants, roster, roster_log, sessions
from speakup.ops import audit
from speakup.platform.config import settings
from speakup.platform.models import (
    AuditEvent,
    Case,
    CaseEvent,
    CaseGrant,
    GrantRecipient,
    ReporterSession,
    RosterEntry,
    db,
)


def _case_id(app: Flask, reference: str) -> int:
    with app.app_context():
        return scalar(select(Case.id).where(Case.reference == reference))


def _opens(client: FlaskClient, code: str) -> int:
    return client.get("/api/v1/follow-up", headers={"Authorization": f"Bearer {code}"}).status_code


def test_a_new_code_replaces_the_lost_one_and_is_shown_once(app: Flask, client: FlaskClient, signed: FlaskClient):
    raised = gen_concern(client, anonymity="confidential", name="Sam Nurse", contact="sam@example.org")
    old_code, reference = raised["access_code"], raised["reference"]
    case_url = f"/guardian/cases/{_case_id(app, reference)}"
    reporter = following_up(app, old_code)  # a browser still following it up with the old code
    assert "Give them a new access code" in signed.get(case_url).get_data(as_text=True)

    given = post_form(signed, case_url, f"{case_url}/new-access-code")
    assert given.status_code == 303 and given.location == "/guardian/new-access-code"
    assert reference not in given.get_data(as_text=True)  # nothing in the POST's answer, which History keeps
    page = signed.get(given.location).get_data(as_text=True)
    new_code = found(ACCESS_CODE_RE, page)
    assert new_code != old_code and "The old access code no longer works" in page

    assert _opens(app.test_client(), old_code) == 401
    assert _opens(app.test_client(), new_code) == 200
    assert reporter.get("/follow-up/case").status_code in (302, 303)  # signed out: its code was replaced
    timeline = following_up(app, new_code).get("/follow-up/case").get_data(as_text=True)
    assert "You were given a new access code. The old one no longer works" in timeline
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == audit.Action.ACCESS_CODE_REPLACED).order_by(AuditEvent.id)
        )
        assert [(e.actor_type, e.case_id) for e in events] == [("guardian", _case_id(app, reference))]

    slip = "/guardian/new-access-code"
    handed = signed.post(slip, data={"csrf_token": csrf_token(signed, slip)})
    assert handed.status_code == 303
    assert new_code not in signed.get("/guardian/new-access-code").get_data(as_text=True)
    assert _opens(app.test_client(), new_code) == 200  # hiding the slip changes nothing about the code


def test_an_anonymous_case_gets_no_new_code_and_nothing_changes(app: Flask, client: FlaskClient, signed: FlaskClient):
    raised = gen_concern(client)  # anonymous
    case_id = _case_id(app, raised["reference"])
    case_url = f"/guardian/cases/{case_id}"
    page = signed.get(case_url).get_data(as_text=True)
    assert "Give them a new access code" not in page and "raised anonymously" in page
    refused = post_form(signed, case_url, f"{case_url}/new-access-code")  # sent anyway, from an old page or a script
    assert refused.status_code == 303 and refused.location.endswith(f"{case_url}#new-access-code")
    assert "nobody can check that the person asking raised it" in signed.get(case_url).get_data(as_text=True)
    assert _opens(app.test_client(), raised["access_code"]) == 200
    with app.app_context():
        kinds = db.session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id)).all()
        assert "new_access_code" not in kinds


def test_a_guardian_who_does_not_hold_the_case_cannot_give_a_code(app: Flask, client: FlaskClient, admin_client):
    raised = gen_concern(client, anonymity="open", name="Sam Nurse", contact="sam@example.org")
    case_url = f"/guardian/cases/{_case_id(app, raised['reference'])}"
    answer = admin_client.post(f"{case_url}/new-access-code", data={"csrf_token": csrf_token(admin_client, "/admin/")})
    assert answer.status_code in (303, 403)
    assert _opens(app.test_client(), raised["access_code"]) == 200


def _rows_of(case_id: int) -> list[tuple[Table, dict[str, object]]]:
    """The case's row and its reporter grant's, every column, as a backup holds them."""
    rows = []
    for table, where in (
        (table_of(Case), lambda t: t.c.id == case_id),
        (table_of(CaseGrant), lambda t: (t.c.case_id == case_id) & (t.c.recipient == GrantRecipient.REPORTER)),
    ):
        rows.append((table, dict(db.session.execute(select(table).where(where(table))).mappings().one())))
    return rows


def _put_back(rows: list[tuple[Table, dict[str, object]]]) -> None:
    for table, row in rows:
        key = [column for column in table.primary_key.columns]
        db.session.execute(update(table).where(*(c == row[c.name] for c in key)).values(row))
    db.session.commit()


def _new_codes_given(case_id: int) -> int:
    kinds = db.session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id)).all()
    replaced = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.case_id == case_id, AuditEvent.action == audit.Action.ACCESS_CODE_REPLACED)
        .order_by(AuditEvent.id)
    ).all()
    return kinds.count("new_access_code") + len(replaced)


def _replaced(app: Flask, client: FlaskClient, signed: FlaskClient, anonymity: str) -> tuple[dict, int, list]:
    """A case raised with a name, the backup copy of its rows, then a new code given by its guardian: what a
    database writer holding the copy starts from."""
    raised = gen_concern(client, anonymity=anonymity, name="Sam Nurse", contact="sam@example.org")
    case_id = _case_id(app, raised["reference"])
    with app.app_context():
        before = _rows_of(case_id)
    case_url = f"/guardian/cases/{case_id}"
    assert post_form(signed, case_url, f"{case_url}/new-access-code").status_code == 303
    return raised, case_id, before


def test_a_replaced_code_put_back_by_a_database_writer_opens_nothing(app: Flask, client: FlaskClient, signed):
    """Issue 26's outside review, F1: a database writer who held on to the old code (or its holder, with a writer's
    help) put back the reporter grant and the lookup id from before the new code was given, and the old code opened
    the case again. Which code is the case's latest is named in the anchored roster log, which a writer cannot roll
    back."""
    raised, _, before = _replaced(app, client, signed, "confidential")
    assert _opens(app.test_client(), raised["access_code"]) == 401
    with app.app_context():
        _put_back(before)
    assert _opens(app.test_client(), raised["access_code"]) == 401
    sent = post_form(app.test_client(), "/follow-up", access_code=raised["access_code"])
    assert not sent.location.startswith("/follow-up/case")


def _code_given_entry(case_id: int) -> RosterEntry:
    entries = db.session.scalars(select(RosterEntry).where(RosterEntry.kind == roster_log.CODE_GIVEN)).all()
    [entry] = [e for e in entries if json.loads(e.statement)["case_id"] == case_id]
    return entry


def _remove_the_evidence(how: str, case_id: int) -> None:
    """What a database writer does to the record that a new code was given, besides putting back the old grant."""
    replaced = (AuditEvent.case_id == case_id) & (AuditEvent.action == audit.Action.ACCESS_CODE_REPLACED)
    entry = _code_given_entry(case_id)
    if how == "audit row deleted":
        db.session.execute(delete(AuditEvent).where(replaced))
    elif how.startswith("audit row's "):
        column = how.removeprefix("audit row's ")
        values = {"action": "case_viewed", "case_id": 1, "detail": "{}", "created_at": datetime(2020, 1, 1)}
        db.session.execute(update(AuditEvent).where(replaced).values({column: values[column]}))
    elif how == "log entry deleted, and every entry after it":
        db.session.execute(delete(RosterEntry).where(RosterEntry.seq >= entry.seq))
    elif how == "log entry edited to name the old code":
        statement = json.loads(entry.statement)
        raised = scalar(
            select(AuditEvent.detail).where(AuditEvent.case_id == case_id, AuditEvent.action == "case_raised")
        )
        statement["code"] = json.loads(raised)["code_generation"]
        entry.statement = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()
    elif how == "an unsigned entry naming the old code appended":
        raised = scalar(
            select(AuditEvent.detail).where(AuditEvent.case_id == case_id, AuditEvent.action == "case_raised")
        )
        roster_log.append(
            roster_log.CODE_GIVEN, None, {"case_id": case_id, "code": json.loads(raised)["code_generation"]}
        )
    elif how.startswith("log entry's "):
        column = how.removeprefix("log entry's ")
        values = {"kind": "added", "user_id": 1, "signature": b"x" * 64, "created_at": datetime(2020, 1, 1)}
        db.session.execute(update(RosterEntry).where(RosterEntry.seq == entry.seq).values({column: values[column]}))
    db.session.commit()


EVIDENCE = [
    "audit row deleted",
    *(f"audit row's {column}" for column in ("action", "case_id", "detail", "created_at")),
    "log entry deleted, and every entry after it",
    "log entry edited to name the old code",
    "an unsigned entry naming the old code appended",
    *(f"log entry's {column}" for column in ("kind", "user_id", "signature", "created_at")),
]


@pytest.mark.parametrize("how", EVIDENCE)
def test_a_replaced_code_stays_replaced_whatever_is_done_to_the_record_of_it(app: Flask, client, signed, how):
    """Issue 26's second outside review: with the old grant put back, deleting or editing the audit row that named
    the new code made the old code open the case again. The new code is named in the roster log, signed by the
    guardian who gave it and anchored outside the database: the old code never opens again, and while the log
    cannot be trusted no code is taken (503), rather than the wrong one."""
    raised, case_id, before = _replaced(app, client, signed, "confidential")
    with app.app_context():
        _put_back(before)
        _remove_the_evidence(how, case_id)
    assert _opens(app.test_client(), raised["access_code"]) in (401, 503), how
    sent = post_form(app.test_client(), "/follow-up", access_code=raised["access_code"])
    assert not sent.location.startswith("/follow-up/case"), how


def test_an_anonymous_case_flipped_to_confidential_in_the_database_gets_no_new_code(
    app: Flask, client: FlaskClient, signed
):
    """Issue 26's outside review, F2: "no new code for an anonymous case" read the plain anonymity column, so a
    database writer who flipped it had the button offered and a code issued to whoever asked. The anonymity is
    sealed with the concern and checked whenever it is opened."""
    raised = gen_concern(client)  # anonymous
    case_id = _case_id(app, raised["reference"])
    case_url = f"/guardian/cases/{case_id}"
    token = csrf_token(signed, case_url)
    with app.app_context():
        db.session.execute(update(Case).where(Case.id == case_id).values(anonymity="confidential"))
        db.session.commit()
    page = signed.get(case_url)
    assert page.status_code == 500 and "Give them a new access code" not in page.get_data(as_text=True)
    signed.post(f"{case_url}/new-access-code", data={"csrf_token": token})
    with app.app_context():
        assert _new_codes_given(case_id) == 0
        db.session.execute(update(Case).where(Case.id == case_id).values(anonymity="anonymous"))
        db.session.commit()
    assert _opens(app.test_client(), raised["access_code"]) == 200


def test_no_column_copied_from_a_confidential_case_gets_an_anonymous_case_a_new_code(app: Flask, client, signed):
    """Every input to the decision, by enumeration: each column of a confidential case's row, copied in turn onto
    an anonymous case's, never has a code given for the anonymous one."""
    anonymous = _case_id(app, gen_concern(client)["reference"])
    raised = gen_concern(client, anonymity="confidential", name="Sam Nurse", contact="sam@example.org")
    confidential = _case_id(app, raised["reference"])
    case_url = f"/guardian/cases/{anonymous}"
    columns = [c.name for c in table_of(Case).columns if not c.primary_key and not c.unique]
    assert {"anonymity", "identity_ct", "concern_ct"} <= set(columns)
    for column in columns:
        token = csrf_token(signed, "/guardian/")
        with app.app_context():
            table = table_of(Case)
            original = db.session.execute(select(table.c[column]).where(table.c.id == anonymous)).scalar()
            copied = db.session.execute(select(table.c[column]).where(table.c.id == confidential)).scalar()
            db.session.execute(update(table).where(table.c.id == anonymous).values({column: copied}))
            db.session.commit()
        assert "Give them a new access code" not in signed.get(case_url).get_data(as_text=True), column
        signed.post(f"{case_url}/new-access-code", data={"csrf_token": token})
        with app.app_context():
            assert _new_codes_given(anonymous) == 0, column
            db.session.execute(update(table).where(table.c.id == anonymous).values({column: original}))
            db.session.commit()


def test_a_confidential_case_flipped_to_open_in_the_database_is_not_shown_as_open(app: Flask, client, signed):
    raised = gen_concern(client, anonymity="confidential", name="Sam Nurse", contact="sam@example.org")
    case_id = _case_id(app, raised["reference"])
    with app.app_context():
        db.session.execute(update(Case).where(Case.id == case_id).values(anonymity="open"))
        db.session.commit()
    page = signed.get(f"/guardian/cases/{case_id}")
    assert page.status_code == 500 and "Sam Nurse" not in page.get_data(as_text=True)
    assert _opens(app.test_client(), raised["access_code"]) == 500


def test_a_concern_sealed_before_its_anonymity_was_is_checked_by_its_name_and_contact(app: Flask, client, signed):
    """Concerns sealed before the anonymity was sealed with them: an anonymous one has no sealed name and contact,
    and a writer cannot make one, so flipping its column is found all the same."""
    raised = gen_concern(client)  # anonymous
    case_id = _case_id(app, raised["reference"])
    with app.app_context():
        case, case_key = grants.open_with_access_code(raised["access_code"], settings().token_pepper)
        text = json.loads(sealing.open_text(case_key, present(case.concern_ct, "concern"), labels.concern(case_id)))
        del text["anonymity"]
        case.concern_ct = sealing.seal_text(case_key, json.dumps(text), labels.concern(case_id))
        db.session.commit()
    case_url = f"/guardian/cases/{case_id}"
    assert signed.get(case_url).status_code == 200  # as it was sealed: still opens
    token = csrf_token(signed, case_url)
    with app.app_context():
        db.session.execute(update(Case).where(Case.id == case_id).values(anonymity="confidential"))
        db.session.commit()
    assert signed.get(case_url).status_code == 500
    signed.post(f"{case_url}/new-access-code", data={"csrf_token": token})
    with app.app_context():
        assert _new_codes_given(case_id) == 0


@pytest.mark.parametrize("command", ["roster accept", "rotate-recovery-key"])
def test_a_new_checkpoint_carries_the_replaced_codes_forward(
    app: Flask, client, signed, guardian, runner, command, tmp_path
):
    """A checkpoint starts the replay afresh: it must name the codes given before it, or the old code would open the
    case again after an alarm is accepted or the recovery key rotated. After an alarm, the audit trail supplies any
    the log lost (the removed entry may be the very one)."""
    raised, case_id, before = _replaced(app, client, signed, "open")
    if command == "roster accept":
        with app.app_context():
            _remove_the_evidence("log entry deleted, and every entry after it", case_id)  # an alarm
    take_checkpoint(app, runner, tmp_path, command, "--keep", guardian.email)
    with app.app_context():
        _put_back(before)
    assert _opens(app.test_client(), raised["access_code"]) == 401


@pytest.mark.parametrize("kept", ["session row put back", "session row never deleted"])
def test_a_follow_up_session_opened_with_the_old_code_ends_with_it(app: Flask, client, signed, kept):
    """Issue 26's third outside review: the old code's holder, with a follow-up session open, and a database writer
    who put its row back after the new code was given (or stopped it being deleted) kept reading the case, and the
    messages the guardian sent to the new code's holder. A session holds, sealed with its case key under the key only
    its cookie has, the code it was opened with: it ends when the roster log names another (or cannot be trusted)."""
    raised = gen_concern(client, anonymity="confidential", name="Sam Nurse", contact="sam@example.org")
    case_id = _case_id(app, raised["reference"])
    reporter = following_up(app, raised["access_code"])
    assert reporter.get("/follow-up/case").status_code == 200
    with app.app_context():
        rows = [dict(row) for row in db.session.execute(select(table_of(ReporterSession))).mappings()]
    case_url = f"/guardian/cases/{case_id}"
    if kept == "session row never deleted":
        with patch.object(sessions, "end_reporter_sessions_of", lambda case_id: None):
            assert post_form(signed, case_url, f"{case_url}/new-access-code").status_code == 303
    else:
        assert post_form(signed, case_url, f"{case_url}/new-access-code").status_code == 303
        with app.app_context():
            db.session.execute(table_of(ReporterSession).insert(), rows)
            db.session.commit()
    page = reporter.get("/follow-up/case")
    assert page.status_code in (302, 303) and "Sam Nurse" not in page.get_data(as_text=True)


def test_follow_up_sessions_end_while_the_roster_log_cannot_be_trusted(app: Flask, client, guardian):
    """As codes are not taken during a roster alarm, sessions opened with one do not go on either."""
    raised = gen_concern(client)
    reporter = following_up(app, raised["access_code"])
    with app.app_context():
        gen_staff(app, email="nia@example.org", name="Nia New")  # an entry after the first, anchored
        assert roster.current_roster().problem is None
        db.session.execute(delete(RosterEntry).where(RosterEntry.seq > 1))  # the log rolled back: an alarm
        db.session.commit()
    assert reporter.get("/follow-up/case").status_code in (302, 303)
    # Signing in again is refused with words that blame nobody's typing, and the API says 503.
    browser = app.test_client()
    sent = post_form(browser, "/follow-up", access_code=raised["access_code"])
    page = browser.get(sent.location).get_data(as_text=True) if sent.status_code in (302, 303) else sent.get_data(True)
    assert "We cannot check access codes just now" in page and "typing mistake" not in page
    assert _opens(app.test_client(), raised["access_code"]) == 503
