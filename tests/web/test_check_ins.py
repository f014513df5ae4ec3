"""Check-ins after closing: at CHECK_IN_DAYS after a case closed (90 and 365) the follow-up
page and the API ask whether the person has suffered detriment for speaking up since; a yes flags the case for its
guardians and is counted in the national return and the board report."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select
from support.factories import case_row, gen_concern
from support.html import post_form, walk_to
from support.present import scalar

from speakup.domain import quarters
from speakup.domain.quarters import quarter_of
from speakup.platform import clock
from speakup.platform.models import Case, db
from speakup.reporting.national_return import national_return, suppressed_return
from speakup.reporting.suppression import DETRIMENT_AFTER_CLOSURE

QUESTION = "Since your case was closed, have you been treated worse because you spoke up?"


def _closed_days_ago(app, signed, days: int) -> dict:
    raised = gen_concern(signed)
    walk_to(signed, raised["reference"], "acknowledged", "closed")
    with app.app_context():
        case = scalar(select(Case).where(Case.reference == raised["reference"]))
        # Noon on the UK day ``days`` before today: the rule counts UK days, and an hour before UK midnight in winter
        # the UTC moment 90 days back falls on the next UK day (BST then).
        closed_on = clock.uk_today() - timedelta(days=days)
        case.closed_at = datetime(closed_on.year, closed_on.month, closed_on.day, 12)
        db.session.commit()
    return raised


def _api(app, code: str):
    client = app.test_client(use_cookies=False)
    headers = {"Authorization": f"Bearer {code}"}
    return client, headers


def test_the_question_waits_until_ninety_days_after_closing(app, signed):
    early = _closed_days_ago(app, signed, 89)
    due = _closed_days_ago(app, signed, 90)
    for raised, asked in ((early, False), (due, True)):
        client, headers = _api(app, raised["access_code"])
        assert client.get("/api/v1/follow-up", headers=headers).get_json()["check_in_requested"] is asked
        reporter = app.test_client()
        assert post_form(reporter, "/follow-up", access_code=raised["access_code"]).status_code == 303
        assert (QUESTION in reporter.get("/follow-up/case").get_data(as_text=True)) is asked
    client, headers = _api(app, early["access_code"])
    assert client.post("/api/v1/follow-up/check-in", json={"detriment": False}, headers=headers).status_code == 409


def test_a_yes_on_the_page_flags_the_case_for_its_guardians(app, signed):
    raised = _closed_days_ago(app, signed, 100)
    reporter = app.test_client()
    assert post_form(reporter, "/follow-up", access_code=raised["access_code"]).status_code == 303
    unanswered = post_form(reporter, "/follow-up/case", "/follow-up/case/check-in", since_closing="")
    assert unanswered.status_code == 303
    assert 'id="since_closing-error"><span class="nhsuk-u-visually-hidden">Error:</span> Answer yes or no' in (
        reporter.get(unanswered.location).get_data(as_text=True)
    )
    answered = post_form(reporter, "/follow-up/case", "/follow-up/case/check-in", since_closing="yes")
    assert answered.status_code == 303
    assert QUESTION not in reporter.get("/follow-up/case").get_data(as_text=True)  # asked once per check-in

    case = case_row(app, raised["reference"])
    assert (case.detriment_after_closure, case.check_ins_answered) == (True, 1)
    queue = signed.get("/guardian/").get_data(as_text=True).split('id="closed-replies"')[1].split("</div>")[0]
    assert raised["reference"] in queue and "Detriment after closing" in queue
    page = signed.get(f"/guardian/cases/{raised['reference']}").get_data(as_text=True)
    assert 'id="detriment-after-closure"' in page


def test_the_api_answers_each_check_in_once_and_asks_again_at_a_year(app, signed):
    raised = _closed_days_ago(app, signed, 120)
    client, headers = _api(app, raised["access_code"])
    refused = client.post("/api/v1/follow-up/check-in", json={"detriment": "yes"}, headers=headers)
    assert refused.status_code == 422 and refused.get_json()["error"]["fields"] == {"detriment": "Answer yes or no"}
    assert client.post("/api/v1/follow-up/check-in", json={"detriment": False}, headers=headers).status_code == 201
    again = client.post("/api/v1/follow-up/check-in", json={"detriment": False}, headers=headers)
    assert again.status_code == 409
    assert client.get("/api/v1/follow-up", headers=headers).get_json()["check_in_requested"] is False
    assert case_row(app, raised["reference"]).detriment_after_closure is False

    with app.app_context():
        case = scalar(select(Case).where(Case.reference == raised["reference"]))
        case.closed_at = clock.utcnow() - timedelta(days=366)
        db.session.commit()
    assert client.get("/api/v1/follow-up", headers=headers).get_json()["check_in_requested"] is True
    assert client.post("/api/v1/follow-up/check-in", json={"detriment": True}, headers=headers).status_code == 201
    assert case_row(app, raised["reference"]).detriment_after_closure is True


def test_an_open_case_has_no_check_in(app, signed):
    raised = gen_concern(signed)
    client, headers = _api(app, raised["access_code"])
    assert client.get("/api/v1/follow-up", headers=headers).get_json()["check_in_requested"] is False
    assert client.post("/api/v1/follow-up/check-in", json={"detriment": True}, headers=headers).status_code == 409


def test_yes_answers_are_counted_in_the_return_and_the_board_with_small_numbers_hidden(app, signed):
    for _ in range(2):
        raised = _closed_days_ago(app, signed, 95)
        client, headers = _api(app, raised["access_code"])
        assert client.post("/api/v1/follow-up/check-in", json={"detriment": True}, headers=headers).status_code == 201
        with app.app_context():  # raised well before it closed: in a quarter that has ended, which the board counts
            case = scalar(select(Case).where(Case.reference == raised["reference"]))
            case.created_at = datetime.combine(quarters.previous_quarter(clock.uk_today()).start, time(12))
            db.session.commit()
    with app.app_context():
        quarter = quarter_of(clock.uk_today())
        counted = {m.key: m.value for m in national_return(quarter)}
        shown = {m.key: m.value for m in suppressed_return(quarter)}
    assert counted[DETRIMENT_AFTER_CLOSURE] == 2 and shown[DETRIMENT_AFTER_CLOSURE] == "<5"
    board = signed.get("/guardian/board").get_data(as_text=True)
    row = board.split("Reported detriment after closing</th></tr></thead>")[1].split("</table>")[0]
    assert "&lt;5" in row.split("</tr>")[-2]
