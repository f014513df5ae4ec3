"""JSON API v1: its OpenAPI document (3.1, every API route and nothing else, bearer auth, the lists of options), checked
against what the server accepts and answers, as docs/interface.md pins it. Every answer is checked against
the document (tests/api/conftest.py)."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from support.api import ONE_MIB, feedback, follow_up, reply, wrong_code
from support.factories import gen_concern
from support.html import guardian_status
from support.openapi import (
    API,
    DOC_URI,
    ApiClient,
    component,
    flask_rule_to_openapi,
    json_pointer,
    schema_problems,
    server_prefix,
)

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
    good: list[dict[str, object]] = [
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
    bad: list[dict[str, object]] = [
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
