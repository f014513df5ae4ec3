"""JSON API v1, following up with an access code: the case's answer, forgiving and refused codes, messages both ways,
feedback once the case is closed, and errors for unknown paths and methods, as docs/interface.md pins it.
Every answer is checked against the document (tests/api/conftest.py)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from support.api import (
    CONTRACT_FOLLOW_UP_FIELDS,
    bearer,
    feedback,
    follow_up,
    one_character_changed,
    reply,
    stored_case,
    wrong_code,
)
from support.factories import gen_concern
from support.html import guardian_message, guardian_status, walk_to
from support.openapi import (
    API,
    ApiClient,
)

from speakup.crypto import access_codes
from speakup.platform.models import Message, db

# --- Following up --------------------------------------------------------------------------------


def test_follow_up_answer_has_every_contract_field(app: Flask, api: ApiClient):
    started = datetime.now(UTC).replace(second=0, microsecond=0, tzinfo=None)  # a reporter's times are to the minute
    raised = gen_concern(api)
    response = follow_up(api, raised["access_code"])
    assert response.status_code == 200
    case = response.get_json()
    assert set(case) >= CONTRACT_FOLLOW_UP_FIELDS
    assert case["reference"] == raised["reference"]
    assert case["status"] == "received"
    assert case["status_label"] == "Received – waiting for a guardian"
    created = datetime.fromisoformat(case["created_at"].replace("Z", "+00:00"))
    assert created.utcoffset() == timedelta(0)
    assert started <= created.replace(tzinfo=None) <= datetime.now(UTC).replace(tzinfo=None)
    assert case["acknowledge_by"] == raised["acknowledge_by"]
    assert date.fromisoformat(case["feedback_by"]) == created.date() + timedelta(days=app.config["FEEDBACK_DAYS"])
    assert app.config["FEEDBACK_DAYS"] == 90
    assert case["messages"] == []
    assert case["feedback_requested"] is False
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "variant",
    [
        str.lower,
        lambda c: c.replace("-", " "),
        lambda c: c.replace("-", ""),
        lambda c: c.replace("-", "").lower(),
        lambda c: f"  {c}  ",
        lambda c: c.replace("0", "O").replace("1", "I"),
    ],
    ids=["lower-case", "spaces", "no-hyphens", "lower-no-hyphens", "padded", "look-alikes"],
)
def test_access_code_is_forgiving_about_how_it_is_typed(api: ApiClient, variant):
    raised = gen_concern(api)
    response = follow_up(api, variant(raised["access_code"]))
    assert response.status_code == 200
    assert response.get_json()["reference"] == raised["reference"]


@pytest.mark.parametrize("app_overrides", [{"ACCESS_CODE_RATE_LIMIT": "100 per minute"}])
def test_bad_codes_all_get_the_same_401(api: ApiClient):
    code = gen_concern(api)["access_code"]
    changed = one_character_changed(code)
    attempts = {
        "wrong code": bearer(wrong_code()),
        "malformed": bearer("not-a-code"),
        "one character changed": bearer(changed),
        "one character changed, no hyphens": bearer(changed.replace("-", "")),
        "too long": bearer(code + "-ABCD"),
        "too short": bearer(code[:-5]),
        "bearer without a code": {"Authorization": "Bearer "},
        "another scheme": {"Authorization": f"Basic {code}"},
        "code without a scheme": {"Authorization": code},
        "missing header": {},
    }
    messages, codes = set(), set()
    for label, headers in attempts.items():
        for path, send in (
            ("/follow-up", lambda h: api.get(f"{API}/follow-up", headers=h)),
            ("/follow-up/messages", lambda h: api.post(f"{API}/follow-up/messages", headers=h, json={"body": "Hi"})),
            (
                "/follow-up/feedback",
                lambda h: api.post(f"{API}/follow-up/feedback", headers=h, json={"speak_up_again": "yes"}),
            ),
        ):
            response = send(headers)
            assert response.status_code == 401, (label, path)
            assert response.headers.get("WWW-Authenticate", "").lower().startswith("bearer"), (label, path)
            error = response.get_json()["error"]
            messages.add(error["message"])
            codes.add(error["code"])
            assert code not in response.get_data(as_text=True)
    assert len(messages) == 1 and len(codes) == 1
    # The right code still works and nothing was written by the refused attempts.
    case = follow_up(api, code).get_json()
    assert case["messages"] == [] and case["feedback_requested"] is False


def test_check_character_catches_every_single_character_typo():
    code = access_codes.normalise_access_code(access_codes.new_access_code())
    for position, original in enumerate(code):
        for replacement in access_codes.ALPHABET:
            if replacement == original:
                continue
            typo = code[:position] + replacement + code[position + 1 :]
            with pytest.raises(access_codes.InvalidAccessCode):
                access_codes.normalise_access_code(typo)


def test_one_character_typo_is_refused_not_mistaken_for_another_case(api: ApiClient):
    code = gen_concern(api)["access_code"]
    typo = one_character_changed(code)
    with pytest.raises(access_codes.InvalidAccessCode):
        access_codes.normalise_access_code(typo)
    assert follow_up(api, typo).status_code == 401


def test_guardian_messages_reach_the_reporter_in_order(
    app: Flask, api: ApiClient, guardian_client: FlaskClient, guardian
):
    raised = gen_concern(api)
    code, reference = raised["access_code"], raised["reference"]
    first = reply(api, code, "I can add the dates.")
    assert first.status_code == 201
    guardian_message(guardian_client, reference, "Thank you. Which ward was it?")
    third = reply(api, code, "Ward 7.")
    assert third.status_code == 201
    guardian_message(guardian_client, reference, "Thank you, we are looking into it.")

    response = follow_up(api, code)
    assert response.status_code == 200
    messages = response.get_json()["messages"]
    assert [(m["author"], m["body"]) for m in messages] == [
        ("reporter", "I can add the dates."),
        ("guardian", "Thank you. Which ward was it?"),
        ("reporter", "Ward 7."),
        ("guardian", "Thank you, we are looking into it."),
    ]
    assert all(set(m) >= {"author", "body", "created_at"} for m in messages)
    stamps = [datetime.fromisoformat(m["created_at"].replace("Z", "+00:00")) for m in messages]
    # A reporter's messages are stored to the minute (a guardian's are not), so the order holds to the minute.
    assert all(stamp.second == 0 and stamp.microsecond == 0 for stamp in stamps[0::2])
    minutes = [stamp.replace(second=0, microsecond=0) for stamp in stamps]
    assert minutes == sorted(minutes)
    assert messages[0]["created_at"] == first.get_json()["created_at"]
    assert messages[2]["created_at"] == third.get_json()["created_at"]
    # The guardian's identity is not passed to the reporter.
    text = response.get_data(as_text=True)
    assert "Gita" not in text and guardian.email not in text


def test_post_message(app: Flask, api: ApiClient):
    raised = gen_concern(api)
    code = raised["access_code"]
    before = datetime.now(UTC).replace(second=0, microsecond=0)  # a reporter's reply is stored to the minute
    response = reply(api, code, "  Something I forgot to say.  ")
    assert response.status_code == 201
    created = datetime.fromisoformat(response.get_json()["created_at"].replace("Z", "+00:00"))
    assert before <= created <= datetime.now(UTC)
    assert created.second == 0 and created.microsecond == 0
    messages = follow_up(api, code).get_json()["messages"]
    assert messages == [
        {"author": "reporter", "body": "Something I forgot to say.", "created_at": response.get_json()["created_at"]}
    ]
    assert stored_case(app, raised["reference"])["status"] == "received"  # a reply moves only awaiting_reporter


@pytest.mark.parametrize(
    "body",
    [{"body": ""}, {"body": "   \n "}, {}, {"body": None}, {"body": 7}, {"body": ["hi"]}],
    ids=["empty", "blank", "missing", "null", "number", "list"],
)
def test_empty_or_non_text_message_is_422(app: Flask, api: ApiClient, body: dict[str, object]):
    code = gen_concern(api)["access_code"]
    response = api.post(f"{API}/follow-up/messages", headers=bearer(code), json=body)
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"body"}
    assert follow_up(api, code).get_json()["messages"] == []


def test_message_length_limit_and_unknown_fields(app: Flask, api: ApiClient):
    code = gen_concern(api)["access_code"]
    too_long = reply(api, code, "y" * 20_001)
    assert too_long.status_code == 422
    assert set(too_long.get_json()["error"]["fields"]) == {"body"}
    unknown = api.post(f"{API}/follow-up/messages", headers=bearer(code), json={"body": "Hi", "author": "guardian"})
    assert unknown.status_code == 422
    assert set(unknown.get_json()["error"]["fields"]) == {"author"}
    not_json = api.post(f"{API}/follow-up/messages", headers=bearer(code), data="body=Hi")
    assert not_json.status_code == 415
    assert follow_up(api, code).get_json()["messages"] == []
    assert reply(api, code, "y" * 20_000).status_code == 201
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message)) == 1


def test_reply_moves_awaiting_reporter_back_to_in_progress(app: Flask, api: ApiClient, guardian_client: FlaskClient):
    raised = gen_concern(api)
    code, reference = raised["access_code"], raised["reference"]
    walk_to(guardian_client, reference, "acknowledged", "in_progress")
    assert follow_up(api, code).get_json()["status"] == "in_progress"
    guardian_message(guardian_client, reference, "Could you tell us which shift?")
    guardian_status(guardian_client, reference, "awaiting_reporter")
    waiting = follow_up(api, code).get_json()
    assert (waiting["status"], waiting["status_label"]) == ("awaiting_reporter", "Waiting for your reply")

    assert reply(api, code, "The night shift.").status_code == 201
    moved = follow_up(api, code).get_json()
    assert (moved["status"], moved["status_label"]) == ("in_progress", "Being looked into")
    assert stored_case(app, reference)["status"] == "in_progress"
    # A second reply leaves it in progress.
    assert reply(api, code, "And the one before.").status_code == 201
    assert follow_up(api, code).get_json()["status"] == "in_progress"


def test_feedback_only_once_the_case_is_closed(app: Flask, api: ApiClient, guardian_client: FlaskClient):
    raised = gen_concern(api)
    code, reference = raised["access_code"], raised["reference"]
    early = feedback(api, code, {"speak_up_again": "yes"})
    assert early.status_code == 409
    assert early.get_json()["error"]["message"]
    assert stored_case(app, reference)["feedback_at"] is None

    guardian_status(guardian_client, reference, "closed")
    closed = follow_up(api, code).get_json()
    assert (closed["status"], closed["status_label"]) == ("closed", "Closed")
    assert closed["feedback_requested"] is True

    for answer, field in (
        ({"speak_up_again": "sometimes"}, "speak_up_again"),
        ({}, "speak_up_again"),
        ({"speak_up_again": "Yes"}, "speak_up_again"),
        ({"speak_up_again": "yes", "detriment": "yes"}, "detriment"),
        ({"speak_up_again": "yes", "detriment": 1}, "detriment"),
    ):
        invalid = feedback(api, code, answer)
        assert invalid.status_code == 422, answer
        assert field in invalid.get_json()["error"]["fields"], answer
    unknown = feedback(api, code, {"speak_up_again": "yes", "comment": "x"})
    assert unknown.status_code == 422
    assert set(unknown.get_json()["error"]["fields"]) == {"comment"}
    assert stored_case(app, reference)["feedback_at"] is None

    recorded = feedback(api, code, {"speak_up_again": "maybe", "detriment": True})
    assert recorded.status_code == 201
    stored = stored_case(app, reference)
    assert (stored["speak_up_again"], stored["detriment"]) == ("maybe", True)
    assert stored["feedback_at"] is not None
    assert follow_up(api, code).get_json()["feedback_requested"] is False

    again = feedback(api, code, {"speak_up_again": "no"})
    assert again.status_code == 409
    assert stored_case(app, reference)["speak_up_again"] == "maybe"


@pytest.mark.parametrize("answer", ["yes", "no", "maybe", "dont_know"])
def test_every_feedback_answer_is_accepted(app: Flask, api: ApiClient, guardian_client: FlaskClient, answer: str):
    raised = gen_concern(api)
    guardian_status(guardian_client, raised["reference"], "closed")
    assert feedback(api, raised["access_code"], {"speak_up_again": answer}).status_code == 201
    stored = stored_case(app, raised["reference"])
    assert (stored["speak_up_again"], stored["detriment"]) == (answer, None)


@pytest.mark.parametrize("answer", [["yes"], {"yes": True}, 1, None])
def test_feedback_answer_that_is_not_text_is_422_not_500(
    app: Flask, api: ApiClient, guardian_client: FlaskClient, answer: object
):
    """Regression (found by tests/test_api_fuzz.py): a list or object answer crashed the lookup of answers."""
    raised = gen_concern(api)
    guardian_status(guardian_client, raised["reference"], "closed")
    response = feedback(api, raised["access_code"], {"speak_up_again": answer})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"speak_up_again"}
    assert stored_case(app, raised["reference"])["feedback_at"] is None
    assert feedback(api, raised["access_code"], {"speak_up_again": "yes"}).status_code == 201


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("delete", "/follow-up", {"GET", "HEAD", "OPTIONS"}),
        ("get", "/concerns", {"POST", "OPTIONS"}),
        ("put", "/follow-up/messages", {"POST", "OPTIONS"}),
        ("trace", "/stats", {"GET", "HEAD", "OPTIONS"}),
    ],
)
def test_wrong_method_names_the_allowed_ones(api: ApiClient, method: str, path: str, allowed: set[str]):
    """Regression (found by tests/test_api_fuzz.py): RFC 9110 requires Allow on a 405; the JSON error lost it."""
    response = api.open(f"{API}{path}", method=method.upper())
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_stats_quarter_pattern_matches_the_years_the_server_takes(document: dict[str, Any]):
    """Regression (found by tests/test_api_fuzz.py): the document allowed any four-digit year; the server
    takes 2000 to 2999 and refuses the rest with 422."""
    (parameter,) = document["paths"]["/stats"]["get"]["parameters"]
    pattern = re.compile(parameter["schema"]["pattern"])
    for quarter in ("2000Q1", "2026-Q3", "2999q4"):
        assert pattern.search(quarter), quarter
    for quarter in ("1999Q4", "3000Q1", "0000Q1", "2026Q5"):
        assert not pattern.search(quarter), quarter


def test_unknown_api_paths_and_methods_answer_json_errors(api: ApiClient):
    missing = api.get(f"{API}/no-such-route")
    assert missing.status_code == 404
    assert set(missing.get_json()["error"]) >= {"code", "message"}
    wrong_method = api.delete(f"{API}/follow-up")
    assert wrong_method.status_code == 405
