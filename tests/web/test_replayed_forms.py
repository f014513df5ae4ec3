"""Issue 24, point 1, enumerated: every HTML form on every page, replayed as the next person at a shared computer
would (Back, then Reload: the browser sends the body it kept), is refused without sending back anything it carried.

The forms are read from the app's own routes, not listed here, so a form added later is covered without anyone
remembering to add it. Each is replayed with a body whose every field holds a marker:
- with no cookies at all (another browser, or a browser whose cookies were cleared);
- with the cookies of a guardian who has since signed out (the token in the body was valid until then);
- twice with the same live session and the same token (a double click, Reload): the second is not acted on.
"""

from __future__ import annotations

import re
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support.factories import gen_staff
from support.html import CSRF_RE, AuthActions, post_form
from support.present import found, present
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from speakup.platform.models import FormPost, db

# Every field name any form posts, each given the marker: whatever a form reads, it reads the marker.
FIELDS = (
    "what_happened", "where", "when", "name", "contact", "anonymity", "worker_group", "body", "access_code",
    "email", "full_name", "role", "password", "new_password", "confirm_password", "current_password",
    "security_code", "safety_code", "note", "closing_message", "outcome", "learning", "reason", "channel",
    "speak_up_again", "detriment", "since_closing", "status", "version", "guardian", "guardian_id", "team",
    "theme", "themes", "submission", "recipient", "days", "summary",
)  # fmt: skip


def _html_form_routes(app: Flask) -> list[Rule]:
    return [
        rule
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or ()) and not rule.rule.startswith("/api/") and rule.endpoint != "static"
    ]


def _path(rule: Rule) -> str:
    values: dict[str, object] = {}
    for name in rule.arguments:
        converter = rule._converters[name]  # what a sample value must be
        items = getattr(converter, "items", None)  # any(...)
        values[name] = (
            sorted(items)[0]
            if items
            else 1
            if converter.__class__.__name__ == "IntegerConverter"
            else (f"SU-{name.upper()}")
        )
    built = rule.build(values, append_unknown=False)
    assert built is not None, rule.rule
    return built[1]


def _row_counts(app: Flask) -> dict[str, int]:
    """Every table's row count: a refused form changes none of them."""
    with app.app_context():
        return {table.name: db.session.query(table).count() for table in db.metadata.sorted_tables}


def _marked_body(marker: str, token: str) -> dict[str, str]:
    return {"csrf_token": token, **{name: f"{marker}-{name}" for name in FIELDS}}


def _nothing_sent_back(client: FlaskClient, response, marker: str, what: str) -> None:
    assert 300 <= response.status_code < 400, f"{what}: answered {response.status_code}, not a redirect"
    assert marker not in response.get_data(as_text=True), f"{what}: the answer carried what was posted"
    followed = client.get(response.location, follow_redirects=True)
    assert followed.status_code < 500, what
    assert marker not in followed.get_data(as_text=True), f"{what}: the page it led to showed what was posted"


def test_every_form_is_enumerated(app: Flask):
    """The list is the app's: at least the forms the issue names."""
    paths = {rule.rule for rule in _html_form_routes(app)}
    for expected in ("/raise", "/follow-up", "/follow-up/case/messages", "/guardian/sign-in", "/guardian/record",
                     "/guardian/cases/<address>/messages", "/admin/invite", "/guardian/sign-out"):  # fmt: skip
        assert expected in paths


def test_a_replayed_form_without_cookies_is_refused_without_echo(app: Flask, client: FlaskClient):
    token = found(CSRF_RE, client.get("/raise").get_data(as_text=True))  # valid, for another browser
    before = _row_counts(app)
    for rule in _html_form_routes(app):
        marker = f"replayed-{uuid.uuid4().hex}"
        stranger = app.test_client()
        response = stranger.post(_path(rule), data=_marked_body(marker, token))
        _nothing_sent_back(stranger, response, marker, f"{rule.rule} without cookies")
        assert _row_counts(app) == before, f"{rule.rule} without cookies changed something"


def test_a_replayed_form_after_the_guardian_signed_out_is_refused_without_echo(app: Flask, client: FlaskClient):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    assert AuthActions(client).sign_in(gita).status_code == 303
    tokens = [found(CSRF_RE, client.get(page).get_data(as_text=True))
              for page in ("/guardian/", "/guardian/record")]  # fmt: skip
    assert AuthActions(client).sign_out().status_code == 303
    before = _row_counts(app)
    for rule in _html_form_routes(app):
        for token in tokens:
            marker = f"replayed-{uuid.uuid4().hex}"
            response = client.post(_path(rule), data=_marked_body(marker, token))
            _nothing_sent_back(client, response, marker, f"{rule.rule} after sign-out")
            assert _row_counts(app) == before, f"{rule.rule} after sign-out changed something"


@pytest.mark.parametrize("page,action", [("/follow-up", "/follow-up"), ("/guardian/sign-in", "/guardian/sign-in")])
def test_the_same_form_sent_twice_is_acted_on_once(app: Flask, client: FlaskClient, page: str, action: str):
    token = found(CSRF_RE, client.get(page).get_data(as_text=True))
    marker = f"twice-{uuid.uuid4().hex}"
    body = _marked_body(marker, token)
    first = client.post(action, data=body)
    second = client.post(action, data=body)
    assert first.status_code == second.status_code == 303 and second.location == first.location
    for answer in (first, second):
        assert marker not in answer.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(FormPost).count() == 1  # one record of the one form


def test_a_page_shows_a_form_kept_for_it_only_until_another_page(app: Flask, client: FlaskClient):
    """Point 3: a mistyped access code stays in the box to be put right, and nowhere once the person moves on."""
    typed = "7K3M-9QXA-NOT-A-CODE"
    refused = post_form(client, "/follow-up", access_code=typed)
    assert refused.status_code == 303 and typed not in refused.get_data(as_text=True)
    assert typed in client.get("/follow-up").get_data(as_text=True)  # the box, after the redirect
    assert typed in client.get("/follow-up").get_data(as_text=True)  # and on Reload of that page
    client.get("/")
    assert typed not in client.get("/follow-up").get_data(as_text=True)
    with app.app_context():
        assert all(row.kept_ct is None for row in db.session.query(FormPost))  # not kept on the server either


def test_the_nonce_is_one_per_page_and_never_the_same_twice(client: FlaskClient):
    first = found(CSRF_RE, client.get("/follow-up").get_data(as_text=True))
    second = found(CSRF_RE, client.get("/follow-up").get_data(as_text=True))
    assert first != second
    assert re.fullmatch(r"[^~]+~[A-Za-z0-9_-]+\.\d+\.[0-9a-f]{64}", first)


def test_a_double_click_follows_the_first_send_to_its_page_with_its_words(app: Flask, monkeypatch):
    """The browser shows the second send's answer, not the first's: the second waits for the first, does nothing
    itself, and leads to the same page with the same words kept."""
    import threading
    import time

    from speakup.crypto import access_codes
    from speakup.keys import grants

    def slow_not_found(*_args: object) -> object:
        time.sleep(0.5)
        raise grants.AccessCodeNotFound()

    monkeypatch.setattr(grants, "open_with_access_code", slow_not_found)
    first_click = app.test_client()
    token = found(CSRF_RE, first_click.get("/follow-up").get_data(as_text=True))
    second_click = app.test_client()
    cookie = app.config["SESSION_COOKIE_NAME"]
    second_click.set_cookie(cookie, present(first_click.get_cookie(cookie), "cookie").value)
    typed = access_codes.new_access_code()
    answers: dict[str, TestResponse] = {}

    def send(name: str, browser: FlaskClient) -> None:
        answers[name] = browser.post("/follow-up", data={"csrf_token": token, "access_code": typed})

    threads = [threading.Thread(target=send, args=("first", first_click))]
    threads[0].start()
    time.sleep(0.2)  # the first is under way
    threads.append(threading.Thread(target=send, args=("second", second_click)))
    threads[1].start()
    for thread in threads:
        thread.join()
    for name in ("first", "second"):
        assert answers[name].status_code == 303 and answers[name].location == "/follow-up", name
    assert typed in second_click.get("/follow-up").get_data(as_text=True)  # the words, for the second's page too


def test_a_copy_of_the_cookie_from_before_sign_out_sends_nothing(app: Flask, client: FlaskClient):
    """Review finding F2: the session cookie is signed, not secret, and the browser writes it to disk; a copy taken
    before "Sign out of this concern" still held the secret its forms' nonces are made for, so a kept body sent
    with it was taken as this browser's. Signing out records that secret as gone."""
    words = f"copied-cookie-{uuid.uuid4().hex}"
    token = found(CSRF_RE, client.get("/raise").get_data(as_text=True))
    submission = found(r'name="submission" value="([^"]+)"', client.get("/raise").get_data(as_text=True))
    body = {"csrf_token": token, "submission": submission, "what_happened": words, "anonymity": ""}
    assert client.post("/raise", data=body).status_code == 303  # came back: no choice made
    cookie_name = app.config["SESSION_COOKIE_NAME"]
    copied = present(client.get_cookie(cookie_name), "session cookie").value
    assert post_form(client, "/follow-up", "/follow-up/sign-out").status_code == 303

    thief = app.test_client()
    thief.set_cookie(cookie_name, copied)
    before = _row_counts(app)
    replayed = thief.post("/raise", data={**body, "anonymity": "anonymous"})
    assert replayed.status_code == 303 and replayed.location == "/raise"
    page = thief.get("/raise").get_data(as_text=True)
    assert "nothing was sent" in page and words not in page
    assert _row_counts(app) == before
