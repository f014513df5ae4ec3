"""Replies waiting: the queue marks the cases the reporter wrote to since this guardian last
opened them, filters on it, and keeps a closed case with a new reporter message in view until it is read."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from support.factories import gen_concern, gen_staff
from support.html import AuthActions, guardian_message, guardian_status

REPLY_TAG = "speakup-reply-waiting"


def _reporter_writes(app: Flask, code: str, body: str = "There is more: it happened again.") -> None:
    api = app.test_client(use_cookies=False)
    answer = api.post("/api/v1/follow-up/messages", json={"body": body}, headers={"Authorization": f"Bearer {code}"})
    assert answer.status_code == 201


def _row(queue_html: str, reference: str) -> str:
    match = re.search(rf'<tr class="nhsuk-table__row">(?:(?!</tr>).)*>{reference}</a>.*?</tr>', queue_html, re.S)
    assert match, f"{reference} is not in the table"
    return match.group(0)


def _queue(client: FlaskClient, **args: str) -> str:
    response = client.get("/guardian/", query_string=args)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_a_reply_is_marked_until_this_guardian_opens_the_case(app, client, auth, guardian):
    colleague = gen_staff(app, "colleague@example.org", name="Colm Colleague")
    raised, quiet = gen_concern(client), gen_concern(client)
    assert auth.sign_in(guardian).status_code == 303
    assert REPLY_TAG not in _row(_queue(client), raised["reference"])
    guardian_message(client, raised["reference"], "Thank you. Which ward?")  # the guardian opened it, then wrote
    assert REPLY_TAG not in _row(_queue(client), raised["reference"])  # their own message is no reply

    _reporter_writes(app, raised["access_code"])
    queue = _queue(client)
    assert REPLY_TAG in _row(queue, raised["reference"])
    assert REPLY_TAG not in _row(queue, quiet["reference"])

    # Another guardian who holds the case has not read it either.
    other = app.test_client()
    assert AuthActions(other).sign_in(colleague).status_code == 303
    assert REPLY_TAG in _row(_queue(other), raised["reference"])

    assert client.get(f"/guardian/cases/{raised['reference']}").status_code == 200
    assert REPLY_TAG not in _row(_queue(client), raised["reference"])
    assert REPLY_TAG in _row(_queue(other), raised["reference"])  # still waiting for the colleague


def test_the_queue_filters_on_replies_waiting(app, client, auth, guardian):
    replied, quiet = gen_concern(client), gen_concern(client)
    assert auth.sign_in(guardian).status_code == 303
    _reporter_writes(app, replied["access_code"])
    waiting = _queue(client, replies="waiting")
    assert replied["reference"] in waiting and quiet["reference"] not in waiting
    assert 'id="filter-replies" name="replies" type="checkbox" value="waiting" checked' in waiting
    assert client.get("/guardian/", query_string={"replies": "maybe"}).status_code == 400


def test_a_closed_case_with_a_new_message_shows_until_it_is_read(app, client, auth, guardian):
    raised = gen_concern(client)
    assert auth.sign_in(guardian).status_code == 303
    guardian_status(client, raised["reference"], "acknowledged")
    guardian_status(client, raised["reference"], "closed")
    queue = _queue(client)
    assert 'id="closed-replies"' not in queue and raised["reference"] not in queue  # closed: not in the open list

    _reporter_writes(app, raised["access_code"], "Since it closed, it has started again.")
    closed = _queue(client).split('id="closed-replies"')[1].split("</div>")[0]
    assert f">{raised['reference']}</a>: the person wrote after the case was closed" in closed

    page = client.get(f"/guardian/cases/{raised['reference']}").get_data(as_text=True)
    assert "Since it closed, it has started again." in page
    assert 'id="closed-replies"' not in _queue(client)
