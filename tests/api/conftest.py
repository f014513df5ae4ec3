"""The API tests' fixtures: the OpenAPI document the app serves, and a client that checks every answer against it.

Every API answer in tests/api/ goes through ``ApiClient`` (``api``), which sends no cookies and checks that the
answer sets none, is JSON, has a status the OpenAPI document lists for that route, and matches the schema the
document gives for it. So the document cannot drift from the code unnoticed.

Assertion messages never carry access codes or concern text; pytest's own diff on failure is enough.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support.openapi import API, ApiClient


@pytest.fixture
def document(app: Flask) -> dict[str, Any]:
    return app.test_client().get(f"{API}/openapi.json").get_json()


@pytest.fixture
def api(app: Flask, document: dict[str, Any]) -> ApiClient:
    client = ApiClient(app, app.response_class, use_cookies=False)
    client.document = document
    client.checked = []
    return client


@pytest.fixture
def guardian_client(signed: FlaskClient) -> FlaskClient:
    """A signed-in guardian (tests/conftest.py's ``signed``). The guardian exists before any concern in the test, so
    gets a key grant."""
    return signed
