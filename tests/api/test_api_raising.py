"""JSON API v1, raising a concern: the options offered, what a concern must and must not carry, the answer and its due
dates, bodies too large or not JSON, and never a cookie, as docs/interface.md pins it. Every answer is
checked against the document (tests/api/conftest.py)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support.api import ONE_MIB, bearer, case_count, follow_up, stored_case, utc_today
from support.factories import gen_concern
from support.html import guardian_status, post_form
from support.openapi import (
    API,
    ApiClient,
    check_api_answer,
)

from speakup.crypto import access_codes
from speakup.domain.categories import lists_for

# --- Options -------------------------------------------------------------------------------------


def test_options_lists_the_allowed_values(api: ApiClient):
    response = api.get(f"{API}/options")
    assert response.status_code == 200
    options = response.get_json()
    assert options["anonymity"] == ["anonymous", "confidential", "open"]
    groups = options["worker_groups"]
    assert isinstance(groups, list) and len(groups) == len(set(groups)) >= 13
    assert all(isinstance(g, str) and g for g in groups)
    assert groups == list(lists_for(utc_today()).worker_groups)


@pytest.mark.parametrize("app_overrides", [{"SUBMIT_RATE_LIMIT": "100 per minute"}])
def test_every_offered_value_is_accepted(app: Flask, api: ApiClient):
    options = api.get(f"{API}/options").get_json()
    for i, group in enumerate(options["worker_groups"]):
        anonymity = options["anonymity"][i % len(options["anonymity"])]
        body: dict[str, object] = {"what_happened": "Staffing", "anonymity": anonymity, "worker_group": group}
        if anonymity != "anonymous":
            body["name"] = "Sam Smith"
        assert api.post(f"{API}/concerns", json=body).status_code == 201, (anonymity, group)
    assert case_count(app) == len(options["worker_groups"])


def test_worker_group_outside_the_list_is_refused(app: Flask, api: ApiClient):
    response = api.post(
        f"{API}/concerns", json={"what_happened": "x", "anonymity": "anonymous", "worker_group": "Astronauts"}
    )
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"worker_group"}
    assert case_count(app) == 0


# --- Raising a concern ---------------------------------------------------------------------------


def test_raise_concern_answer(app: Flask, api: ApiClient):
    before = utc_today()
    response = api.post(
        f"{API}/concerns",
        json={
            "what_happened": "The night shift was left unsafe.",
            "where": "Ward 7",
            "when": "Last Tuesday",
            "anonymity": "anonymous",
            "worker_group": "registered_nurses_and_midwives",
        },
    )
    after = utc_today()
    assert response.status_code == 201
    raised = response.get_json()
    assert {"reference", "access_code", "status", "acknowledge_by"} <= set(raised)
    assert raised["status"] == "received"
    assert isinstance(raised["reference"], str) and raised["reference"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", raised["acknowledge_by"])
    ack_days = app.config["ACK_DAYS"]
    assert ack_days == 7  # the EU Whistleblowing Directive default
    assert date.fromisoformat(raised["acknowledge_by"]) in {
        before + timedelta(days=ack_days),
        after + timedelta(days=ack_days),
    }
    # The access code: grouped, from the unambiguous alphabet, >= 100 bits, valid check character.
    code = raised["access_code"]
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{1,4})+", code)
    normalised = access_codes.normalise_access_code(code)
    assert (len(normalised) - 1) * 5 >= 100
    assert response.headers["Cache-Control"] == "no-store"
    assert case_count(app) == 1

    second = gen_concern(api)
    assert second["access_code"] != code and second["reference"] != raised["reference"]


@pytest.mark.parametrize("app_overrides", [{"ACK_DAYS": 3, "FEEDBACK_DAYS": 30}])
def test_due_dates_follow_configuration(api: ApiClient):
    before = utc_today()
    raised = gen_concern(api)
    after = utc_today()
    assert date.fromisoformat(raised["acknowledge_by"]) in {before + timedelta(days=3), after + timedelta(days=3)}
    case = follow_up(api, raised["access_code"]).get_json()
    created = datetime.fromisoformat(case["created_at"].replace("Z", "+00:00")).date()
    assert case["acknowledge_by"] == raised["acknowledge_by"]
    assert date.fromisoformat(case["acknowledge_by"]) == created + timedelta(days=3)
    assert date.fromisoformat(case["feedback_by"]) == created + timedelta(days=30)


@pytest.mark.parametrize("anonymity", ["confidential", "open"])
@pytest.mark.parametrize("name", [None, "", "   "])
def test_confidential_and_open_need_a_name(app: Flask, api: ApiClient, anonymity: str, name: str | None):
    body: dict[str, object] = {"what_happened": "Rota pressure", "anonymity": anonymity}
    if name is not None:
        body["name"] = name
    response = api.post(f"{API}/concerns", json=body)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] and error["message"]
    assert set(error["fields"]) == {"name"} and error["fields"]["name"]
    assert case_count(app) == 0


@pytest.mark.parametrize("anonymity", ["confidential", "open"])
def test_confidential_and_open_with_a_name_are_accepted(app: Flask, api: ApiClient, anonymity: str):
    raised = gen_concern(api, anonymity=anonymity, name="Sam Smith", contact="Extension 4021")
    assert raised["status"] == "received"
    assert stored_case(app, raised["reference"])["identity_ct"]


@pytest.mark.parametrize(
    "identifying", [{"name": "Sam Smith"}, {"contact": "sam@example.org"}, {"name": "Sam", "contact": "ext 1"}]
)
def test_anonymous_refuses_name_and_contact(app: Flask, api: ApiClient, identifying: dict[str, str]):
    body = {"what_happened": "Rota pressure", "anonymity": "anonymous", **identifying}
    response = api.post(f"{API}/concerns", json=body)
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == set(identifying)
    assert "Sam" not in response.get_data(as_text=True)
    assert case_count(app) == 0  # nothing identifying stored: nothing stored at all


def test_anonymous_concern_stores_no_identity(app: Flask, api: ApiClient):
    raised = gen_concern(api)
    assert stored_case(app, raised["reference"])["identity_ct"] is None


def test_unknown_field_is_refused(app: Flask, api: ApiClient):
    response = api.post(
        f"{API}/concerns", json={"what_happened": "Rota pressure", "anonymity": "anonymous", "email": "a@b.org"}
    )
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"email"}
    assert "a@b.org" not in response.get_data(as_text=True)
    assert case_count(app) == 0


@pytest.mark.parametrize("what_happened", [None, "", "    \n  ", 42])
def test_what_happened_is_required_text(app: Flask, api: ApiClient, what_happened: object):
    body: dict[str, object] = {"anonymity": "anonymous"}
    if what_happened is not None:
        body["what_happened"] = what_happened
    response = api.post(f"{API}/concerns", json=body)
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"what_happened"}
    assert case_count(app) == 0


def test_anonymity_is_required(app: Flask, api: ApiClient):
    response = api.post(f"{API}/concerns", json={"what_happened": "Rota pressure"})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"anonymity"}


@pytest.mark.parametrize("char", ["x", "é", "🏥"])
def test_what_happened_up_to_20000_characters(app: Flask, api: ApiClient, char: str):
    text = char * 20_000
    accepted = api.post(f"{API}/concerns", json={"what_happened": text, "anonymity": "anonymous"})
    assert accepted.status_code == 201
    refused = api.post(f"{API}/concerns", json={"what_happened": text + char, "anonymity": "anonymous"})
    assert refused.status_code == 422
    assert set(refused.get_json()["error"]["fields"]) == {"what_happened"}
    assert text not in refused.get_data(as_text=True)  # never echoes what was sent
    assert case_count(app) == 1


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("what_happened=x&anonymity=anonymous", "application/x-www-form-urlencoded"),
        ('{"what_happened": "x", "anonymity": "anonymous"}', "text/plain"),
        ("", None),
    ],
    ids=["form", "json-as-text", "no-body"],
)
def test_non_json_body_is_415(app: Flask, api: ApiClient, data: str, content_type: str | None):
    response = api.post(f"{API}/concerns", data=data, content_type=content_type)
    assert response.status_code == 415
    assert set(response.get_json()) == {"error"}
    assert case_count(app) == 0


@pytest.mark.parametrize(
    "data", ["{not json", "[]", '"text"', "null", ""], ids=["broken", "array", "string", "null", "empty"]
)
def test_json_that_is_not_an_object_is_400(app: Flask, api: ApiClient, data: str):
    response = api.post(f"{API}/concerns", data=data, content_type="application/json")
    assert response.status_code == 400
    assert case_count(app) == 0


def _concern_body_of_size(size: int) -> bytes:
    skeleton = json.dumps({"what_happened": "", "anonymity": "anonymous"}).encode()
    body = json.dumps({"what_happened": "x" * (size - len(skeleton)), "anonymity": "anonymous"}).encode()
    assert len(body) == size
    return body


def test_body_over_1_mib_is_413_in_json(app: Flask, api: ApiClient):
    response = api.post(f"{API}/concerns", data=_concern_body_of_size(ONE_MIB + 1), content_type="application/json")
    assert response.status_code == 413
    body = response.get_json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)
    # Exactly 1 MiB is not "over 1 MiB": it reaches the rules (and is too long for them).
    at_limit = api.post(f"{API}/concerns", data=_concern_body_of_size(ONE_MIB), content_type="application/json")
    assert at_limit.status_code == 422
    assert case_count(app) == 0


def test_follow_up_bodies_over_1_mib_are_413(api: ApiClient):
    code = gen_concern(api)["access_code"]
    big = json.dumps({"body": "x" * ONE_MIB}).encode()
    for path in ("/follow-up/messages", "/follow-up/feedback"):
        response = api.post(f"{API}{path}", data=big, content_type="application/json", headers=bearer(code))
        assert response.status_code == 413, path
        assert set(response.get_json()["error"]) >= {"code", "message"}
    assert follow_up(api, code).get_json()["messages"] == []


def test_no_cookie_even_for_a_browser_that_has_one(app: Flask, guardian_client: FlaskClient, document: dict):
    """A browser with a guardian session (and a reporter session) calls the API: still no Set-Cookie."""
    client = guardian_client
    raised = gen_concern(client)
    code = raised["access_code"]
    assert post_form(client, "/follow-up", access_code=code).status_code == 303  # reporter HTML session too
    guardian_status(client, raised["reference"], "closed")
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/openapi.json", {}),
        ("GET", "/options", {}),
        ("POST", "/concerns", {"json": {"what_happened": "x", "anonymity": "anonymous"}}),
        ("POST", "/concerns", {"json": {}}),
        ("GET", "/follow-up", {"headers": bearer(code)}),
        ("GET", "/follow-up", {}),
        ("POST", "/follow-up/messages", {"headers": bearer(code), "json": {"body": "Hi"}}),
        ("POST", "/follow-up/feedback", {"headers": bearer(code), "json": {"speak_up_again": "no"}}),
        ("POST", "/follow-up/feedback", {"headers": bearer(code), "json": {"speak_up_again": "no"}}),
    ]
    answers = [(method, API + path, client.open(API + path, method=method, **kw)) for method, path, kw in calls]
    assert [a[2].status_code for a in answers] == [200, 200, 201, 422, 200, 401, 201, 201, 409]
    for method, path, response in answers:
        check_api_answer(app, document, method, path, response)
    # ...and the API did not end or change the browser's sessions.
    assert client.get("/guardian/").status_code == 200
    assert client.get("/follow-up/case").status_code == 200
