"""A person who lost their access code: the guardian of a confidential or open case gives them a new one (issue 26,
point 3). The old code opens nothing from that moment, the new one is shown once on a slip, the person's timeline and
the audit trail say so; an anonymous case's guardian cannot, as nobody can check who is asking."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from support.factories import gen_concern
from support.html import ACCESS_CODE_RE, csrf_token, following_up, post_form
from support.present import found, scalar

from speakup.ops import audit
from speakup.platform.models import AuditEvent, Case, CaseEvent, db


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
