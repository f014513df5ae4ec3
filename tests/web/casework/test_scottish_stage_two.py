"""Scotland's stage 2 response (issue 29, point 2): under the National Whistleblowing Standards a stage 2 case closes
with the Standards' outcome (upheld, partly upheld, not upheld) and a response that has every part the Standards ask
for; the person who raised it is then shown how to take it to the Independent National Whistleblowing Officer, and
until when. Anonymous concerns are not covered by the Standards, and the raise form says so before anyone chooses."""

from __future__ import annotations

import re
from datetime import date

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from support.casework import (
    CLOSING,
    act,
    came_back,
    case_url,
    field_error,
    follow_up_json,
    load_form,
    move,
    reporter_page,
    stored,
    text_of,
    textarea_value,
    was_done,
)
from support.factories import gen_concern
from support.html import following_up
from support.openapi import check_api_answer

from speakup.platform import clock
from speakup.platform.models import Case, db

PARTS: dict[str, object] = {"part_findings": "yes", "part_apology": "yes", "part_actions": "yes", "part_final": "yes"}
CONTACT = "Morag Guardian, Freedom to Speak Up office"
INWO = "Independent National Whistleblowing Officer"


@pytest.fixture
def app_overrides(request) -> dict[str, object]:
    rules = getattr(request, "param", "scotland")
    return {"DEADLINE_RULES": rules, "SCOTLAND_STAGE": 2, "SUBMIT_RATE_LIMIT": "1000 per hour"}


def _refer_by(app, reference: str) -> date:
    with app.app_context():
        created = db.session.scalar(select(Case.created_at).where(Case.reference == reference))
    assert created is not None
    return clock.uk_date(created) + relativedelta(months=12)


def _close(client, ref: str, outcome: str, parts: dict[str, object] | None = None, contact: str = CONTACT):
    """Sends the close form as the case page has it, with the parts of the response confirmed (all unless given)."""
    data = {**load_form(client, ref), "outcome": outcome, "closing_message": CLOSING, "named_contact": contact}
    return client.post(case_url(ref, "close"), data={**data, **(PARTS if parts is None else parts)})


def _close_form_outcomes(page: str) -> list[str]:
    block = re.search(r'<select [^>]*id="outcome" name="outcome"[^>]*>(.*?)</select>', page, re.S)
    assert block
    return re.findall(r'<option value="([^"]+)"', block.group(1))


def test_a_stage_two_case_offers_the_standards_outcomes_and_asks_for_every_part_of_the_response(app, signed):
    ref = gen_concern(signed, anonymity="confidential", name="Ailsa Byrne")["reference"]
    page = text_of(signed.get(f"/guardian/cases/{ref}"))
    assert _close_form_outcomes(page) == ["upheld", "partly_upheld", "not_upheld", "withdrawn", "no_contact"]
    for words in ("findings and conclusions", "apology", "action", "final decision", "speak to"):
        assert words in page
    assert 'name="named_contact"' in page


def test_a_general_outcome_is_refused_at_stage_two(app, signed):
    ref = gen_concern(signed, anonymity="confidential", name="Ailsa Byrne")["reference"]
    before = stored(app, ref)
    page = came_back(signed, _close(signed, ref, "resolved"))
    assert field_error(page, "outcome") == "Choose upheld, partly upheld or not upheld (the Standards' outcomes)"
    assert textarea_value(page, "closing_message") == CLOSING
    assert stored(app, ref) == before


@pytest.mark.parametrize("missing", [*PARTS, "named_contact"])
def test_a_response_missing_a_part_is_refused_and_keeps_the_words(app, signed, missing):
    ref = gen_concern(signed, anonymity="confidential", name="Ailsa Byrne")["reference"]
    before = stored(app, ref)
    parts = {key: value for key, value in PARTS.items() if key != missing}
    page = came_back(signed, _close(signed, ref, "upheld", parts, "" if missing == "named_contact" else CONTACT))
    field = "named_contact" if missing == "named_contact" else "response_parts"
    assert field_error(page, field)
    assert textarea_value(page, "closing_message") == CLOSING
    assert stored(app, ref) == before


@pytest.mark.parametrize("outcome", ["upheld", "partly_upheld", "not_upheld"])
def test_the_person_is_shown_the_inwo_and_the_date_the_12_months_run_out(app, signed, outcome):
    raised = gen_concern(signed, anonymity="confidential", name="Ailsa Byrne")
    ref, code = raised["reference"], raised["access_code"]
    move(signed, ref, "acknowledged")
    response = _close(signed, ref, outcome)
    assert was_done(signed, response)
    refer_by = _refer_by(app, ref)
    assert stored(app, ref).outcome == outcome

    page = reporter_page(following_up(app, code))
    signposting = re.search(r'<div[^>]*id="signposting".*?</div>', page, re.S)
    assert signposting, "no signposting on the reporter's page"
    text = signposting.group(0)
    assert INWO in text and "https://inwo.spso.org.uk" in text
    assert f"{refer_by.day} {refer_by:%B %Y}" in text
    assert CONTACT in page  # the named contact is part of the closing message they read

    client = app.test_client()
    answer = client.get("/api/v1/follow-up", headers={"Authorization": f"Bearer {code}"})
    document = client.get("/api/v1/openapi.json").get_json()
    check_api_answer(app, document, "GET", "/api/v1/follow-up", answer)  # signposting is in the OpenAPI document
    assert answer.get_json()["signposting"] == {
        "body": INWO,
        "web": "https://inwo.spso.org.uk",
        "refer_by": refer_by.isoformat(),
    }


def test_an_anonymous_stage_two_case_has_no_inwo_review(app, signed):
    raised = gen_concern(signed, anonymity="anonymous")
    ref = raised["reference"]
    response = _close(signed, ref, "not_upheld")
    assert was_done(signed, response)
    assert follow_up_json(app, raised["access_code"])["signposting"] is None
    assert INWO not in reporter_page(following_up(app, raised["access_code"]))


@pytest.mark.parametrize("outcome", ["withdrawn", "no_contact"])
def test_a_case_closed_without_a_response_still_shows_the_inwo(app, signed, outcome):
    """No response is owed when the person withdrew or stopped replying, so the parts are not asked for; but the
    INWO can still look at how the concern was handled, so the person is told (outside review 2, finding 2: a
    guardian alone closed a case as "no reply" at once, and the person was never shown the INWO)."""
    raised = gen_concern(signed, anonymity="confidential", name="Ailsa Byrne")
    response = act(signed, raised["reference"], "close", outcome=outcome, closing_message=CLOSING)
    assert was_done(signed, response)
    refer_by = _refer_by(app, raised["reference"])
    assert follow_up_json(app, raised["access_code"])["signposting"]["refer_by"] == refer_by.isoformat()


@pytest.mark.parametrize("app_overrides", ["england", "eu"], indirect=True)
def test_other_rules_close_as_before_with_no_signposting(app, signed):
    raised = gen_concern(signed, anonymity="confidential", name="Ailsa Byrne")
    page = text_of(signed.get(f"/guardian/cases/{raised['reference']}"))
    assert "upheld" not in _close_form_outcomes(page) and 'name="named_contact"' not in page
    response = act(signed, raised["reference"], "close", outcome="resolved", closing_message=CLOSING)
    assert was_done(signed, response)
    assert follow_up_json(app, raised["access_code"])["signposting"] is None


@pytest.mark.parametrize(
    ("app_overrides", "warned"), [("scotland", True), ("england", False)], indirect=["app_overrides"]
)
def test_the_raise_form_says_anonymous_concerns_are_not_covered_only_under_the_scottish_rules(app, client, warned):
    page = text_of(client.get("/raise"))
    warning = "Anonymous concerns are not covered by the National Whistleblowing Standards"
    assert (warning in page) is warned
    if warned:
        # Said before the choice is made: above the anonymity question's options.
        assert page.index(warning) < page.index('value="anonymous"')
