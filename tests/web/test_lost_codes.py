"""A person who lost their access code: the guardian of a confidential or open case gives them a new one (issue 26,
point 3). The old code opens nothing from that moment, the new one is shown once on a slip, the person's timeline and
the audit trail say so; an anonymous case's guardian cannot, as nobody can check who is asking."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Table, select, update
from support.factories import gen_concern
from support.html import ACCESS_CODE_RE, csrf_token, following_up, post_form
from support.present import found, present, scalar, table_of

from speakup.crypto import labels, sealing
from speakup.keys import grants
from speakup.ops import audit
from speakup.platform.config import settings
from speakup.platform.models import AuditEvent, Case, CaseEvent, CaseGrant, GrantRecipient, db


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
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == audit.Action.ACCESS_CODE_REPLACED))
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
        select(AuditEvent).where(AuditEvent.case_id == case_id, AuditEvent.action == audit.Action.ACCESS_CODE_REPLACED)
    ).all()
    return kinds.count("new_access_code") + len(replaced)


def test_a_replaced_code_put_back_by_a_database_writer_opens_nothing(app: Flask, client: FlaskClient, signed):
    """Issue 26's outside review, F1: a database writer who held on to the old code (or its holder, with a writer's
    help) put back the reporter grant and the lookup id from before the new code was given, and the old code opened
    the case again. Which code is the case's latest is in the audit chain, which a writer cannot roll back."""
    raised = gen_concern(client, anonymity="confidential", name="Sam Nurse", contact="sam@example.org")
    case_id = _case_id(app, raised["reference"])
    with app.app_context():
        before = _rows_of(case_id)
    case_url = f"/guardian/cases/{case_id}"
    assert post_form(signed, case_url, f"{case_url}/new-access-code").status_code == 303
    assert _opens(app.test_client(), raised["access_code"]) == 401
    with app.app_context():
        _put_back(before)
    assert _opens(app.test_client(), raised["access_code"]) == 401
    sent = post_form(app.test_client(), "/follow-up", access_code=raised["access_code"])
    assert not sent.location.startswith("/follow-up/case")


def test_a_code_opens_its_case_only_while_the_chain_names_it(app: Flask, client: FlaskClient, signed):
    """The other way round: a writer who puts back the raise's generation by hand (a forged audit row, without the
    pepper) gains nothing, and the code the guardian gave goes on working."""
    raised = gen_concern(client, anonymity="open", name="Sam Nurse", contact="sam@example.org")
    case_id = _case_id(app, raised["reference"])
    case_url = f"/guardian/cases/{case_id}"
    given = post_form(signed, case_url, f"{case_url}/new-access-code")
    new_code = found(ACCESS_CODE_RE, signed.get(given.location).get_data(as_text=True))
    with app.app_context():
        replaced = scalar(
            select(AuditEvent).where(
                AuditEvent.case_id == case_id, AuditEvent.action == audit.Action.ACCESS_CODE_REPLACED
            )
        )
        raised_event = scalar(
            select(AuditEvent).where(AuditEvent.case_id == case_id, AuditEvent.action == audit.Action.CASE_RAISED)
        )
        assert raised_event.detail != replaced.detail  # each names its own code, and neither is the code
        assert raised["access_code"] not in raised_event.detail and new_code not in replaced.detail
        forged = AuditEvent(
            created_at=replaced.created_at + timedelta(seconds=1),
            action=audit.Action.ACCESS_CODE_REPLACED,
            actor_type="guardian",
            actor_id=replaced.actor_id,
            case_id=case_id,
            detail=raised_event.detail,  # the old code's generation, copied
            prev_hash=replaced.hash,
            hash=secrets.token_hex(32),  # a writer without the pepper cannot make the right one
        )
        db.session.add(forged)
        db.session.commit()
    assert _opens(app.test_client(), new_code) == 200
    assert _opens(app.test_client(), raised["access_code"]) == 401


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
