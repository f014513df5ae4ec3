"""The voluntary characteristics of those speaking up: asked when raising (page and API), later
on the follow-up page and API, or recorded by a guardian; "prefer not to say" by default; counted by quarter apart
from any case, never tied to one. How the board shows them is in test_characteristics_board.py."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import OperationalError
from support.factories import case_row, gen_concern
from support.html import REFERENCE_RE, post_form, send_raise_form
from support.openapi import json_pointer, schema_problems
from support.present import found, scalar

from speakup.domain import characteristics, quarters
from speakup.platform import clock
from speakup.platform.models import Case, CharacteristicCount, db

KEPT = "Your answers are not stored with your concern"
WORDS = "The handover sheet is being filled in before the checks are done."


def _counts(app) -> dict[tuple[str, str, str], int]:
    with app.app_context():
        rows = db.session.scalars(select(CharacteristicCount)).all()
        return {(r.quarter, r.question, r.answer): r.count for r in rows}


def _answered(app, reference: str) -> bool:
    """Whether the service has the case's person as having answered (its marker, which only the server can find)."""
    with app.app_context():
        return characteristics.answered(scalar(select(Case).where(Case.reference == reference)))


def _this_quarter() -> str:
    return quarters.quarter_of(clock.uk_today()).label


def _raise_on_page(client, **fields: str):
    form = {"what_happened": WORDS, "anonymity": "anonymous", **fields}
    return send_raise_form(client, **form)


def _sign_in_as_reporter(app, code: str):
    reporter = app.test_client()
    assert post_form(reporter, "/follow-up", access_code=code).status_code == 303
    return reporter


def test_every_form_that_asks_says_how_the_answers_are_kept(app, client, signed):
    raise_page = client.get("/raise").get_data(as_text=True)
    record_page = signed.get("/guardian/record").get_data(as_text=True)
    code = gen_concern(app.test_client())["access_code"]
    follow_up = _sign_in_as_reporter(app, code).get("/follow-up/case").get_data(as_text=True)
    for page in (raise_page, follow_up):
        assert KEPT in page and 'id="about"' in page
    assert "not stored with the concern" in record_page and 'id="about"' in record_page
    for page in (raise_page, record_page, follow_up):
        for question in characteristics.questions_for(clock.uk_today()):
            select_html = page.split(f'<select class="nhsuk-select" id="{question.key}"')[1].split("</select>")[0]
            # "Prefer not to say" is the first option and so the one chosen until the person picks another.
            assert select_html.split("<option")[1].startswith(' value="">Prefer not to say<')
            assert " selected" not in select_html


def test_answers_given_when_raising_are_counted_by_quarter_and_not_with_the_case(app, client):
    page = _raise_on_page(client, age_band="25_34", ethnic_group="black", disability="yes", religion="")
    assert page.status_code == 200
    reference = found(REFERENCE_RE, page.get_data(as_text=True))
    quarter = _this_quarter()
    assert _counts(app) == {
        (quarter, "age_band", "25_34"): 1,
        (quarter, "ethnic_group", "black"): 1,
        (quarter, "disability", "yes"): 1,
    }
    case = case_row(app, reference)
    assert _answered(app, reference) is True
    # Nothing of the answers is on the case, and nothing of the case is with the answers.
    with app.app_context():
        values = [str(getattr(case, c.key)) for c in inspect(Case).columns]
        columns = {c["name"] for c in inspect(db.engine).get_columns("characteristic_counts")}
    assert not {"25_34", "black"} & set(values)
    assert columns == {"quarter", "question", "answer", "count"}

    _raise_on_page(client, age_band="25_34")
    assert _counts(app)[(quarter, "age_band", "25_34")] == 2


def test_prefer_not_to_say_is_not_counted_and_leaves_the_questions_open(app, client):
    page = _raise_on_page(client)
    reference = found(REFERENCE_RE, page.get_data(as_text=True))
    assert _counts(app) == {}
    assert _answered(app, reference) is False


def test_a_wrong_answer_comes_back_by_its_field_with_everything_kept(app, client):
    page = _raise_on_page(client, age_band="a_hundred", sex="female", where="Ward 4")
    html = page.get_data(as_text=True)
    assert [r.status_code for r in page.history] == [303] and page.status_code == 200
    assert '<details class="nhsuk-details" id="about" open>' in html  # the problem is not folded away
    assert 'id="age_band-error"><span class="nhsuk-u-visually-hidden">Error:</span> Age: choose an answer' in html
    assert '<option value="female" selected>' in html and WORDS in html and 'value="Ward 4"' in html
    assert _counts(app) == {}
    with app.app_context():
        assert db.session.scalar(select(Case.id)) is None  # nothing raised


def test_answering_later_on_the_follow_up_page_counts_once(app, client):
    code = gen_concern(app.test_client())["access_code"]
    reporter = _sign_in_as_reporter(app, code)
    empty = post_form(reporter, "/follow-up/case", "/follow-up/case/about-you")
    assert empty.status_code == 303 and empty.location == "/follow-up/case#about-you"
    shown = reporter.get(empty.location).get_data(as_text=True)
    assert "<title>Error: " in shown
    assert "Choose at least one answer, or leave these questions" in shown

    answered = post_form(reporter, "/follow-up/case", "/follow-up/case/about-you", sexual_orientation="bisexual")
    assert answered.status_code == 303 and answered.headers["Location"].endswith("#about-you")
    page = reporter.get("/follow-up/case").get_data(as_text=True)
    assert 'id="about-given"' in page and 'id="about"' not in page
    assert _counts(app) == {(_this_quarter(), "sexual_orientation", "bisexual"): 1}

    # A second answer (another tab still open, say) is not counted.
    again = reporter.post("/follow-up/case/about-you", data={"csrf_token": _csrf(page), "sex": "male"})
    assert again.status_code == 303
    assert _counts(app) == {(_this_quarter(), "sexual_orientation", "bisexual"): 1}


def _csrf(page: str) -> str:
    return page.split('name="csrf_token" value="')[1].split('"')[0]


def test_answering_later_does_not_change_the_cases_version(app, client):
    """A guardian's form open on the case (its version) stays valid while the person answers."""
    raised = gen_concern(app.test_client())
    before = case_row(app, raised["reference"]).version
    with app.app_context():
        case = scalar(select(Case).where(Case.reference == raised["reference"]))
        characteristics.give_for_case(case, {"age_band": "45_54"})
        with pytest.raises(characteristics.AlreadyGiven):
            characteristics.give_for_case(case, {"age_band": "45_54"})
    assert case_row(app, raised["reference"]).version == before
    assert _counts(app) == {(_this_quarter(), "age_band", "45_54"): 1}


def test_the_api_takes_answers_with_a_concern_and_later(app):
    api = app.test_client(use_cookies=False)
    raised = gen_concern(api, characteristics={"trained_outside_uk": "yes", "sex": None, "age_band": " "})
    assert _counts(app) == {(_this_quarter(), "trained_outside_uk", "yes"): 1}
    headers = {"Authorization": f"Bearer {raised['access_code']}"}
    assert api.get("/api/v1/follow-up", headers=headers).get_json()["characteristics_asked"] is False
    again = api.post("/api/v1/follow-up/characteristics", json={"sex": "female"}, headers=headers)
    assert again.status_code == 409

    later = gen_concern(api)
    headers = {"Authorization": f"Bearer {later['access_code']}"}
    assert api.get("/api/v1/follow-up", headers=headers).get_json()["characteristics_asked"] is True
    for body, field in (
        ({"sex": "sometimes"}, "sex"),
        ({"shoe_size": "9"}, "shoe_size"),
        ({"sex": 1}, "sex"),
        ({"sex": ""}, "age_band"),  # nothing answered
    ):
        refused = api.post("/api/v1/follow-up/characteristics", json=body, headers=headers)
        assert refused.status_code == 422 and field in refused.get_json()["error"]["fields"], body
    answered = api.post("/api/v1/follow-up/characteristics", json={"religion": "sikh", "sex": ""}, headers=headers)
    assert answered.status_code == 201 and answered.get_json() == {"recorded": True}
    assert _counts(app)[(_this_quarter(), "religion", "sikh")] == 1

    wrong = api.post(
        "/api/v1/concerns",
        json={"what_happened": WORDS, "anonymity": "anonymous", "characteristics": {"age_band": "old"}},
    )
    assert wrong.status_code == 422 and "age_band" in wrong.get_json()["error"]["fields"]
    not_an_object = api.post(
        "/api/v1/concerns", json={"what_happened": WORDS, "anonymity": "anonymous", "characteristics": ["yes"]}
    )
    assert not_an_object.status_code == 422 and "characteristics" in not_an_object.get_json()["error"]["fields"]


def test_options_and_the_openapi_document_list_the_questions(app):
    api = app.test_client(use_cookies=False)
    listed = api.get("/api/v1/options").get_json()["characteristics"]
    questions = characteristics.questions_for(clock.uk_today())
    assert [(q["key"], q["answers"]) for q in listed] == [(q.key, list(q.answers)) for q in questions]
    document = api.get("/api/v1/openapi.json").get_json()
    concern = json_pointer("paths", "/concerns", "post", "requestBody", "content", "application/json", "schema")
    later = json_pointer(
        "paths", "/follow-up/characteristics", "post", "requestBody", "content", "application/json", "schema"
    )
    base = {"what_happened": "A", "anonymity": "anonymous"}
    assert schema_problems(document, concern, {**base, "characteristics": {"age_band": "25_34", "sex": ""}}) == []
    assert schema_problems(document, concern, {**base, "characteristics": None}) == []
    assert schema_problems(document, concern, {**base, "characteristics": {"age_band": "old"}}) != []
    assert schema_problems(document, concern, {**base, "characteristics": {"shoe_size": "9"}}) != []
    assert schema_problems(document, later, {"age_band": "25_34", "sex": None}) == []
    assert schema_problems(document, later, {"sex": ""}) != []  # at least one answer
    assert schema_problems(document, later, {}) != []
    assert KEPT in document["components"]["schemas"]["Characteristics"]["description"]


def test_a_guardian_records_what_they_were_told(app, signed):
    form = {
        "channel": "phone",
        "what_happened": WORDS,
        "anonymity": "anonymous",
        "sex": "male",
        "age_band": "55_64",
    }
    assert post_form(signed, "/guardian/record", **form).status_code == 303
    quarter = _this_quarter()
    assert _counts(app) == {(quarter, "sex", "male"): 1, (quarter, "age_band", "55_64"): 1}
    wrong = post_form(signed, "/guardian/record", **{**form, "sex": "unknown"})
    assert wrong.status_code == 303 and 'id="sex-error"' in signed.get(wrong.location).get_data(as_text=True)


def test_a_count_that_cannot_be_written_does_not_cost_the_person_their_code(app, client, monkeypatch):
    def fail(_answers):
        raise OperationalError("INSERT", {}, Exception("the counts table is locked"))

    monkeypatch.setattr(characteristics, "count_answers", fail)
    page = _raise_on_page(client, age_band="25_34")
    assert page.status_code == 200 and REFERENCE_RE.search(page.get_data(as_text=True))
