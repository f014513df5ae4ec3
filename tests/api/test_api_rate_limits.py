"""JSON API v1, rate limits: wrong access codes counted across every route and the HTML page, per client, and one
submission budget shared with the raise form, as docs/interface.md pins it. Every answer is checked against
the document (tests/api/conftest.py)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support.api import case_count, feedback, follow_up, one_character_changed, reply, wrong_code
from support.factories import gen_concern
from support.html import post_form, send_raise_form
from support.openapi import (
    API,
    ApiClient,
)

from speakup.crypto import access_codes

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
