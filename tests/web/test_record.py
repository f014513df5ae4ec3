"""Recording a concern raised in person, by phone, email, letter or through a champion.

Names from docs/interface.md ("Concerns a guardian records")."""

from __future__ import annotations

import html
import re

import pytest
from markupsafe import escape
from sqlalchemy import func, select
from support.factories import as_if_raised_last_quarter, case_row, gen_staff
from support.html import ACCESS_CODE_RE, REFERENCE_RE, csrf_token, post_form
from support.present import found, get_row, present, scalar

from speakup.ops import audit
from speakup.platform.models import AuditEvent, Case, CaseGrant, db

WORDS = "My manager told me to sign off the fridge temperatures I had not checked. Ward 9, most nights."


def _record(client, **fields: str):
    """Sends the form as a browser does; its answer is a redirect (303) that carries nothing typed or made."""
    form = {
        "channel": "in_person",
        "what_happened": WORDS,
        "anonymity": "confidential",
        "name": "Priya Nurse",
        "contact": "07700 900123",
        **fields,
    }
    response = post_form(client, "/guardian/record", **form)
    assert response.status_code == 303, response.status_code
    answer = response.get_data(as_text=True)
    assert WORDS not in answer and "Priya" not in answer and "SU-" not in answer, "the POST's answer echoes"
    return response


def _landing(client, response) -> str:
    """The page a send of the form leads to: /guardian/record/done, or the form again with its mistakes."""
    return client.get(response.location).get_data(as_text=True)


def test_the_queue_links_to_the_form_which_has_the_contract_fields(signed):
    queue = signed.get("/guardian/").get_data(as_text=True)
    # In the header's navigation now, on every guardian page (issue 26, point 5).
    assert '<a class="nhsuk-header__navigation-link" href="/guardian/record">Record a concern</a>' in queue
    page = signed.get("/guardian/record").get_data(as_text=True)
    for text in (
        "How was it raised?",
        ">In person<",
        ">By phone<",
        ">By email<",
        ">By letter<",
        ">Through a speak up champion<",
        ">Other<",
        "What happened?",
        "How does the person want to raise it?",
        ">Anonymously<",
        ">Confidentially<",
        ">Openly<",
        "Their name",
        "Give them an access code to follow up online",
        "Record concern",
    ):
        assert text in page, text


def test_a_recorded_concern_is_sealed_for_the_roster_and_its_code_works_online(app, client, auth, guardian):
    colleague = gen_staff(app, "colleague@example.org", name="Colm Colleague")
    assert auth.sign_in(guardian).status_code == 303
    response = _record(client, give_access_code="yes")
    assert response.location == "/guardian/record/done"
    page = _landing(client, response)
    reference = found(REFERENCE_RE, page)
    code = html.unescape(found(ACCESS_CODE_RE, page))
    assert WORDS not in page and "Priya" not in page  # the slip and its page hold nothing about the concern

    case = case_row(app, reference)
    assert (case.channel, case.anonymity, case.assigned_to_id, case.status) == (
        "in_person",
        "confidential",
        guardian.id,
        "received",
    )
    with app.app_context():
        stored = get_row(Case, case.id)
        assert WORDS.encode() not in present(stored.concern_ct, "concern") and b"Priya" not in present(
            stored.identity_ct, "identity"
        )
        holders = set(
            db.session.scalars(
                select(CaseGrant.user_id).where(CaseGrant.case_id == case.id, CaseGrant.recipient == "guardian")
            )
        )
        assert holders == {guardian.id, colleague.id}
        recipients = db.session.scalars(select(CaseGrant.recipient).where(CaseGrant.case_id == case.id)).all()
        assert sorted(recipients) == ["guardian", "guardian", "recovery", "reporter"]
        event = scalar(select(AuditEvent).where(AuditEvent.action == audit.Action.CASE_RECORDED))
        assert (event.actor_type, event.actor_id, event.case_id) == ("guardian", guardian.id, case.id)
        detail = audit.detail_of(event)  # how it was raised, and which access code the reporter holds (not the code)
        assert detail == {"channel": "in_person", "code_generation": detail["code_generation"]}
        assert re.fullmatch(r"[0-9a-f]{32}", str(detail["code_generation"]))

    case_page = client.get(f"/guardian/cases/{reference}").get_data(as_text=True)
    assert WORDS in case_page and "Priya Nurse" in case_page
    assert '<dd class="nhsuk-summary-list__value" id="case-channel">In person, recorded by a guardian</dd>' in case_page

    reporter = app.test_client()
    assert post_form(reporter, "/follow-up", access_code=code).status_code == 303
    assert reference in reporter.get("/follow-up/case").get_data(as_text=True)
    api = app.test_client(use_cookies=False)
    answer = api.get("/api/v1/follow-up", headers={"Authorization": f"Bearer {code}"})
    assert answer.status_code == 200 and answer.get_json()["reference"] == reference


def test_without_an_access_code_none_is_shown(app, signed):
    page = _landing(signed, _record(signed, channel="phone", anonymity="anonymous", name="", contact=""))
    assert ACCESS_CODE_RE.search(page) is None and "No access code was made for them" in page
    case = case_row(app, found(REFERENCE_RE, page))
    assert (case.channel, case.anonymity, case.identity_ct) == ("phone", "anonymous", None)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"channel": ""}, "channel", "Choose how the concern was raised"),
        ({"channel": "online"}, "channel", "Choose how the concern was raised"),  # online is for the form itself
        ({"what_happened": ""}, "what_happened", "Enter what happened, in the person's words where you can"),
        ({"anonymity": ""}, "anonymity", "Choose how the person wants to raise it"),
        ({"name": ""}, "name", "Enter their name, or record it as raised anonymously"),
        (
            {"anonymity": "anonymous", "contact": ""},
            "name",
            "Leave their name out of an anonymous concern, or choose another option",
        ),
    ],
)
def test_a_mistake_comes_back_by_its_field_with_the_words_kept(app, signed, fields, field, message):
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(Case))
    response = _record(signed, **fields)
    assert response.location == "/guardian/record"
    page = _landing(signed, response)
    assert page.startswith("<!DOCTYPE html>") and "<title>Error: Record a concern" in page
    expected = f'id="{field}-error"><span class="nhsuk-u-visually-hidden">Error:</span> {escape(message)}</span>'
    assert expected in page
    if fields.get("what_happened") != "":
        assert str(escape(WORDS)) in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == before


def test_the_form_needs_its_csrf_token(signed):
    token = csrf_token(signed, "/guardian/record")
    assert token
    refused = signed.post("/guardian/record", data={"channel": "phone", "what_happened": WORDS})
    assert refused.status_code == 303 and refused.location == "/guardian/record"
    assert WORDS not in refused.get_data(as_text=True)
    page = _landing(signed, refused)
    # Issue 24: never echoed (after a sign-out, the next person's Back and Reload must not show it).
    assert "nothing was sent" in page and str(escape(WORDS)) not in page and WORDS not in page
    with signed.application.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == 0


def test_the_board_counts_recorded_concerns_by_how_they_were_raised(app, signed):
    for _ in range(5):
        assert _record(signed, channel="letter", anonymity="anonymous", name="", contact="").location.endswith("/done")
    assert _record(signed, channel="champion", anonymity="anonymous", name="", contact="").location.endswith("/done")
    as_if_raised_last_quarter(app)
    page = signed.get("/guardian/board").get_data(as_text=True)
    table = page.split('id="channels"')[1].split("</table>")[0]
    letter = table.split("By letter</th>")[1].split("</tr>")[0]
    champion = table.split("Through a speak up champion</th>")[1].split("</tr>")[0]
    online = table.split("Online</th>")[1].split("</tr>")[0]
    assert champion.rstrip().endswith(">&lt;5</td>")  # one: hidden, as the national return hides it
    # Six raised, shown: five letters would give the one away by subtraction, so they are hidden too.
    assert letter.rstrip().endswith(">&lt;5</td>")
    assert online.rstrip().endswith(">0</td>")
    raised = page.split("Raised</th>")[1].split("</table>")[0]
    assert (
        raised.split("</tr>")[-2]
        .split("</th>")[1]
        .startswith('<td class="nhsuk-table__cell nhsuk-table__cell--numeric">6</td>')
    )
