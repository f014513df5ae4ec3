"""JSON API v1, the reporter side, exactly as docs/interface.md ("JSON API v1") pins it.

Every API answer in this module goes through ``ApiClient``, which sends no cookies and checks that
the answer sets none, is JSON, has a status the OpenAPI document lists for that route, and matches
the schema the document gives for it. So the document cannot drift from the code unnoticed.

Assertion messages never carry access codes or concern text; pytest's own diff on failure is enough.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy import func, select
from support.factories import gen_concern
from support.html import guardian_message, guardian_status, post_form, send_raise_form, walk_to
from support.openapi import (
    API,
    DOC_URI,
    ApiClient,
    check_api_answer,
    component,
    flask_rule_to_openapi,
    json_pointer,
    schema_problems,
    server_prefix,
)

from speakup.crypto import access_codes
from speakup.domain.categories import lists_for
from speakup.platform.models import Case, Message, db

ONE_MIB = 1024 * 1024
CONTRACT_FOLLOW_UP_FIELDS = {
    "reference",
    "status",
    "status_label",
    "created_at",
    "acknowledge_by",
    "feedback_by",
    "messages",
    "feedback_requested",
}


@pytest.fixture
def document(app: Flask) -> dict[str, Any]:
    return app.test_client().get(f"{API}/openapi.json").get_json()


@pytest.fixture
def api(app: Flask, document: dict[str, Any]) -> ApiClient:
    client = ApiClient(app, app.response_class, use_cookies=False)
    client.document = document
    client.checked = []
    return client


def bearer(code: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {code}"}


def follow_up(api: FlaskClient, code: str, **kwargs: Any):
    return api.get(f"{API}/follow-up", headers=bearer(code), **kwargs)


def reply(api: FlaskClient, code: str, body: object, **kwargs: Any):
    return api.post(f"{API}/follow-up/messages", headers=bearer(code), json={"body": body}, **kwargs)


def feedback(api: FlaskClient, code: str, answer: dict[str, object], **kwargs: Any):
    return api.post(f"{API}/follow-up/feedback", headers=bearer(code), json=answer, **kwargs)


def utc_today() -> date:
    return datetime.now(UTC).date()


def case_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Case))


def stored_case(app: Flask, reference: str) -> dict[str, Any]:
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None
        return {
            "status": case.status,
            "speak_up_again": case.speak_up_again,
            "detriment": case.detriment_reported,
            "feedback_at": case.feedback_at,
            "identity_ct": case.identity_ct,
            "version": case.version,
        }


def wrong_code() -> str:
    """Well formed, passes its check character, opens nothing."""
    return access_codes.new_access_code()


def one_character_changed(code: str) -> str:
    """The same code with its first character swapped for another from the alphabet (check character kept)."""
    first = code[0]
    other = access_codes.ALPHABET[(access_codes.ALPHABET.index(first) + 1) % len(access_codes.ALPHABET)]
    return other + code[1:]


# --- Guardian side, through the HTML forms ------------------------------------------------------


@pytest.fixture
def guardian_client(app: Flask, client: FlaskClient, auth, guardian) -> FlaskClient:
    """A signed-in guardian. The guardian exists before any concern in the test, so gets a key grant."""
    response = auth.sign_in(guardian)
    assert response.status_code == 303, "guardian sign-in failed"
    return client


# --- The OpenAPI document ------------------------------------------------------------------------


def test_openapi_document_is_openapi_3_1(api: ApiClient):
    response = api.get(f"{API}/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    assert isinstance(document["info"]["title"], str) and document["info"]["title"]
    assert isinstance(document["info"]["version"], str) and document["info"]["version"]
    assert document["paths"]
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    # Every "$ref" in the document resolves.
    resolver = (
        Registry()
        .with_resource(DOC_URI, Resource.from_contents(document, default_specification=DRAFT202012))
        .resolver(base_uri=DOC_URI)
    )
    refs: list[str] = []

    def collect(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(document)
    assert refs
    for ref in refs:
        assert resolver.lookup(ref).contents is not None


def test_openapi_covers_every_api_route_and_nothing_else(app: Flask, document: dict[str, Any]):
    prefix = server_prefix(document)
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule == API or rule.rule.startswith(API + "/"):
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
                routes.add((method.lower(), flask_rule_to_openapi(rule.rule)))
    documented = {
        (method, prefix + path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in ("get", "put", "post", "delete", "options", "head", "patch", "trace")
    }
    assert routes == {
        ("get", f"{API}/openapi.json"),
        ("get", f"{API}/options"),
        ("post", f"{API}/concerns"),
        ("get", f"{API}/follow-up"),
        ("post", f"{API}/follow-up/messages"),
        ("post", f"{API}/follow-up/feedback"),
        ("post", f"{API}/follow-up/check-in"),
        ("post", f"{API}/follow-up/characteristics"),
        ("get", f"{API}/stats"),  # statistics token, not the access code: tests/test_reports.py
    }
    assert documented == routes
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            success = [s for s in operation["responses"] if s.startswith("2")]
            assert success, f"{method} {path} documents no success answer"


def test_openapi_marks_the_access_code_as_bearer_auth(document: dict[str, Any]):
    schemes = document["components"]["securitySchemes"]
    for path in ("/follow-up", "/follow-up/messages", "/follow-up/feedback"):
        operations = document["paths"][path]
        (operation,) = operations.values()
        requirements = operation.get("security", document.get("security"))
        assert requirements, path
        (name,) = requirements[0]
        assert schemes[name]["type"] == "http" and schemes[name]["scheme"].lower() == "bearer"
    for path in ("/options", "/concerns", "/openapi.json"):
        (operation,) = document["paths"][path].values()
        assert not operation.get("security", document.get("security")), path


def test_openapi_lists_match_options(api: ApiClient, document: dict[str, Any]):
    options = api.get(f"{API}/options").get_json()
    schemas = document["components"]["schemas"]
    assert schemas["NewConcern"]["properties"]["anonymity"]["enum"] == options["anonymity"]
    (listed, _blank) = schemas["NewConcern"]["properties"]["worker_group"]["anyOf"]
    assert listed["enum"] == options["worker_groups"]


def test_schema_checks_can_fail(document: dict[str, Any]):
    """The harness is not vacuous: wrong shapes, wrong formats and unknown statuses are caught."""
    assert schema_problems(document, component("RaisedConcern"), {"reference": "SU-1"}) != []
    assert schema_problems(document, component("MessageCreated"), {"created_at": "yesterday"}) == [
        "$.created_at: format"
    ]
    assert schema_problems(document, component("MessageCreated"), {"created_at": "2026-01-02T03:04:05Z"}) == []
    assert schema_problems(document, component("FollowUp"), {"acknowledge_by": "2026-13-40"}) != []
    assert schema_problems(document, component("Error"), {"error": {"message": "no code"}}) != []


def test_request_schemas_agree_with_the_server(api: ApiClient, document: dict[str, Any]):
    """Bodies the server takes validate against the document's request schemas; ones it refuses do not."""
    concern = json_pointer("paths", "/concerns", "post", "requestBody", "content", "application/json", "schema")
    good = [
        {"what_happened": "x" * 20_000, "anonymity": "anonymous"},
        {
            "what_happened": "A",
            "anonymity": "open",
            "name": "Sam",
            "contact": "ext 4021",
            "where": "Ward 3",
            "when": "Tuesday night",
            "worker_group": "other",
        },
    ]
    # Blank and null optional fields mean "not given": the server takes them, so the document must too.
    good.append(
        {
            "what_happened": "A",
            "anonymity": "anonymous",
            "name": "",
            "contact": "  ",
            "where": None,
            "when": None,
            "worker_group": "",
            "exclude_guardian": None,
        }
    )
    bad = [
        {"what_happened": "x" * 20_001, "anonymity": "anonymous"},
        {"what_happened": " \n\t ", "anonymity": "anonymous"},  # blank: nothing happened
        {"what_happened": "A", "anonymity": "confidential", "name": "   "},
        {"what_happened": "A", "anonymity": "open"},
        {"what_happened": "A", "anonymity": "anonymous", "contact": "ext 4021"},
        {"what_happened": "A", "anonymity": "anonymous", "where": "x" * 201},
        {"anonymity": "anonymous"},
        {"what_happened": "A", "anonymity": "anonymous", "email": "a@example.org"},
        {"what_happened": "A", "anonymity": "sometimes"},
        {"what_happened": "A", "anonymity": "anonymous", "worker_group": "astronauts"},
    ]
    for body in good:
        assert schema_problems(document, concern, body) == []
        assert api.post(f"{API}/concerns", json=body).status_code == 201
    for body in bad:
        assert schema_problems(document, concern, body) != []
        assert api.post(f"{API}/concerns", json=body).status_code == 422

    feedback_schema = json_pointer(
        "paths", "/follow-up/feedback", "post", "requestBody", "content", "application/json", "schema"
    )
    assert schema_problems(document, feedback_schema, {"speak_up_again": "dont_know", "detriment": False}) == []
    assert schema_problems(document, feedback_schema, {"speak_up_again": "sometimes"}) != []
    assert schema_problems(document, feedback_schema, {"speak_up_again": "yes", "detriment": "yes"}) != []
    message_schema = json_pointer(
        "paths", "/follow-up/messages", "post", "requestBody", "content", "application/json", "schema"
    )
    assert schema_problems(document, message_schema, {"body": "Thank you"}) == []
    assert schema_problems(document, message_schema, {"body": ""}) != []
    assert schema_problems(document, message_schema, {"body": "   "}) != []
    assert schema_problems(document, feedback_schema, {"speak_up_again": "no", "detriment": None}) == []
    assert schema_problems(document, message_schema, {"body": "x", "to": "guardian"}) != []


def test_every_route_answers_match_the_document(api: ApiClient, guardian_client: FlaskClient):
    """Drives each route to its success answer and its reachable error answers; ApiClient validates each."""
    raised = gen_concern(api)
    code, reference = raised["access_code"], raised["reference"]
    api.get(f"{API}/openapi.json")
    api.get(f"{API}/options")
    api.post(f"{API}/concerns", json={"anonymity": "anonymous"})  # 422
    api.post(f"{API}/concerns", data="what_happened=x")  # 415
    api.post(f"{API}/concerns", data="{not json", content_type="application/json")  # 400
    api.post(f"{API}/concerns", data=b"x" * (ONE_MIB + 1), content_type="application/json")  # 413
    follow_up(api, code)
    api.get(f"{API}/follow-up")  # 401
    reply(api, code, "More detail")
    reply(api, code, "")  # 422
    reply(api, wrong_code(), "Hello")  # 401
    feedback(api, code, {"speak_up_again": "yes"})  # 409
    guardian_status(guardian_client, reference, "closed")
    feedback(api, code, {"speak_up_again": "perhaps"})  # 422
    feedback(api, code, {"speak_up_again": "yes", "detriment": False})  # 201
    api.get(f"{API}/no-such-route")  # 404
    api.get(f"{API}/concerns")  # 405

    seen = {(method, path.removeprefix(API), status) for method, path, status in api.checked}
    assert seen >= {
        ("GET", "/openapi.json", 200),
        ("GET", "/options", 200),
        ("POST", "/concerns", 201),
        ("POST", "/concerns", 400),
        ("POST", "/concerns", 413),
        ("POST", "/concerns", 415),
        ("POST", "/concerns", 422),
        ("GET", "/follow-up", 200),
        ("GET", "/follow-up", 401),
        ("POST", "/follow-up/messages", 201),
        ("POST", "/follow-up/messages", 401),
        ("POST", "/follow-up/messages", 422),
        ("POST", "/follow-up/feedback", 201),
        ("POST", "/follow-up/feedback", 409),
        ("POST", "/follow-up/feedback", 422),
        ("GET", "/no-such-route", 404),
        ("GET", "/concerns", 405),
    }


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


# --- Rate limits ---------------------------------------------------------------------------------

ACCESS_LIMIT_3 = pytest.mark.parametrize("app_overrides", [{"ACCESS_CODE_RATE_LIMIT": "3 per minute"}])


def assert_rate_limited(response) -> None:
    assert response.status_code == 429
    retry_after = response.headers.get("Retry-After")
    assert retry_after is not None and retry_after.isdigit() and 0 <= int(retry_after) <= 60
    body = response.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] and body["error"]["message"]


@ACCESS_LIMIT_3
def test_fourth_wrong_code_is_429(api: ApiClient):
    code = gen_concern(api)["access_code"]
    for _ in range(3):
        assert follow_up(api, wrong_code()).status_code == 401
    assert_rate_limited(follow_up(api, wrong_code()))
    # Once a client is over the limit it is stopped, whatever it sends: that is what ends guessing.
    assert_rate_limited(follow_up(api, code))


@ACCESS_LIMIT_3
def test_right_codes_do_not_count_against_the_limit(api: ApiClient):
    code = gen_concern(api)["access_code"]
    for _ in range(2):
        assert follow_up(api, wrong_code()).status_code == 401
    for _ in range(5):
        assert follow_up(api, code).status_code == 200
    assert reply(api, code, "Still here.").status_code == 201
    assert reply(api, code, "").status_code == 422  # a right code with a bad body is not a wrong code
    assert follow_up(api, wrong_code()).status_code == 401  # the third wrong one
    assert_rate_limited(follow_up(api, wrong_code()))


@ACCESS_LIMIT_3
def test_malformed_and_missing_codes_count_as_wrong(api: ApiClient):
    assert follow_up(api, "not-a-code").status_code == 401
    assert api.get(f"{API}/follow-up").status_code == 401
    assert follow_up(api, one_character_changed(access_codes.new_access_code())).status_code == 401
    assert_rate_limited(follow_up(api, wrong_code()))


@ACCESS_LIMIT_3
def test_wrong_codes_count_across_all_api_routes(api: ApiClient):
    """The limit is on wrong codes per client, not per route: three routes must not triple the guesses."""
    code = gen_concern(api)["access_code"]
    assert follow_up(api, wrong_code()).status_code == 401
    assert reply(api, wrong_code(), "Hi").status_code == 401
    assert feedback(api, wrong_code(), {"speak_up_again": "yes"}).status_code == 401
    assert_rate_limited(reply(api, wrong_code(), "Hi"))
    assert_rate_limited(feedback(api, wrong_code(), {"speak_up_again": "yes"}))
    assert_rate_limited(follow_up(api, code))


@ACCESS_LIMIT_3
def test_access_code_limit_is_per_client(api: ApiClient):
    code = gen_concern(api)["access_code"]
    for _ in range(3):
        assert follow_up(api, wrong_code()).status_code == 401
    assert_rate_limited(follow_up(api, wrong_code()))
    other = {"REMOTE_ADDR": "192.0.2.77"}
    assert follow_up(api, code, environ_base=other).status_code == 200
    assert follow_up(api, wrong_code(), environ_base=other).status_code == 401


@ACCESS_LIMIT_3
def test_wrong_codes_on_the_html_page_count_for_the_api_too(api: ApiClient, client: FlaskClient):
    for _ in range(3):
        response = post_form(client, "/follow-up", access_code=wrong_code())
        assert response.status_code == 303 and response.location == "/follow-up"
        page = client.get(response.location).get_data(as_text=True)  # holds the code typed: never printed
        refused = "We could not find a concern with that access code" in page
        assert refused, "no refusal on the page"
    assert_rate_limited(follow_up(api, wrong_code()))


@pytest.mark.parametrize("app_overrides", [{"SUBMIT_RATE_LIMIT": "2 per minute"}])
def test_third_concern_in_a_minute_is_429(app: Flask, api: ApiClient):
    gen_concern(api)
    gen_concern(api)
    response = api.post(f"{API}/concerns", json={"what_happened": "Third", "anonymity": "anonymous"})
    assert_rate_limited(response)
    assert case_count(app) == 2
    # Per client: someone else on another address can still raise a concern.
    other = api.post(
        f"{API}/concerns",
        json={"what_happened": "Other", "anonymity": "anonymous"},
        environ_base={"REMOTE_ADDR": "192.0.2.78"},
    )
    assert other.status_code == 201
    assert case_count(app) == 3


@pytest.mark.parametrize("app_overrides", [{"SUBMIT_RATE_LIMIT": "2 per minute"}])
def test_html_and_api_submissions_share_one_budget(app: Flask, api: ApiClient, client: FlaskClient):
    assert send_raise_form(client, what_happened="Form", anonymity="anonymous").status_code == 200
    gen_concern(api)
    response = api.post(f"{API}/concerns", json={"what_happened": "Third", "anonymity": "anonymous"})
    assert_rate_limited(response)
    assert case_count(app) == 2
