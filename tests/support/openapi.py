"""An API client that checks every answer against the OpenAPI document: no cookie set, JSON, a status the
document lists for the route, a body that matches the schema it gives. Used by the API tests and the reports'."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.test import TestResponse

API = "/api/v1"
DOC_URI = "urn:speakup:openapi"

# RFC 3339 date-time (jsonschema only checks "date-time" when an optional package is installed).
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", re.IGNORECASE)
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not RFC3339.fullmatch(value):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


# --- The OpenAPI document as a schema registry ---------------------------------------------------


def json_pointer(*parts: str) -> str:
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def validator_at(document: dict[str, Any], pointer: str) -> Draft202012Validator:
    """A validator for the schema at ``pointer`` inside the document; its "$ref"s resolve against the document."""
    registry = Registry().with_resource(DOC_URI, Resource.from_contents(document, default_specification=DRAFT202012))
    return Draft202012Validator({"$ref": f"{DOC_URI}#{pointer}"}, registry=registry, format_checker=FORMATS)


def schema_problems(document: dict[str, Any], pointer: str, instance: object) -> list[str]:
    # Report where and which rule failed, never the value: it could be an access code.
    return sorted(f"{e.json_path}: {e.validator}" for e in validator_at(document, pointer).iter_errors(instance))


def component(name: str) -> str:
    return json_pointer("components", "schemas", name)


def server_prefix(document: dict[str, Any]) -> str:
    servers = document.get("servers") or [{"url": ""}]
    return urlparse(servers[0]["url"]).path.rstrip("/")


def flask_rule_to_openapi(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def operation_for(app: Flask, document: dict[str, Any], method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    """The document's path key and operation for a concrete request, or None when no route matches."""
    try:
        rule, _args = app.url_map.bind("localhost").match(path, method=method, return_rule=True)
    except (NotFound, MethodNotAllowed):
        return None
    prefix = server_prefix(document)
    full = flask_rule_to_openapi(rule.rule)
    assert full.startswith(prefix), "route outside the document's server URL"
    key = full[len(prefix) :]
    assert key in document["paths"], f"{full} is not in the OpenAPI document"
    operations = document["paths"][key]
    assert method.lower() in operations, f"{method} {full} is not in the OpenAPI document"
    return key, operations[method.lower()]


# --- A client that checks every API answer ------------------------------------------------------


class ApiClient(FlaskClient):
    """Sends no cookies; checks every /api/ answer sets none and matches the OpenAPI document."""

    document: dict[str, Any]
    checked: list[tuple[str, str, int]]

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        response = super().open(*args, **kwargs)
        request = response.request
        if request.path.startswith("/api/"):
            check_api_answer(self.application, self.document, request.method, request.path, response)
            self.checked.append((request.method, request.path, response.status_code))
        return response


def check_api_answer(app: Flask, document: dict[str, Any], method: str, path: str, response: TestResponse) -> None:
    assert "Set-Cookie" not in response.headers, f"{method} {path} set a cookie"
    assert response.mimetype == "application/json", f"{method} {path} did not answer JSON"
    body = response.get_json()
    status = response.status_code
    if status >= 400:
        assert schema_problems(document, component("Error"), body) == []
        assert isinstance(body["error"]["code"], str) and body["error"]["code"]
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    found = operation_for(app, document, method, path)
    if found is None:
        assert status in (404, 405), f"{method} {path} matched no route but answered {status}"
        return
    key, operation = found
    assert str(status) in operation["responses"], f"{method} {API}{key} answered {status}, not in the document"
    content = operation["responses"][str(status)].get("content", {})
    assert "application/json" in content, f"{method} {API}{key} {status} has no JSON schema in the document"
    pointer = json_pointer(
        "paths", key, method.lower(), "responses", str(status), "content", "application/json", "schema"
    )
    assert schema_problems(document, pointer, body) == [], f"{method} {API}{key} {status} does not match its schema"
