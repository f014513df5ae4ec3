"""Issue 26, point 6: the case page's sections are one form whose buttons each post to their own action, so words
typed in one section survive pressing another section's button. The action acts on its own fields only; the other
sections' words are kept sealed for this browser (speakup/web/once.py) and shown again after the redirect, never
echoed in the answer to the POST and never in plain in the database. A second send of the same body acts once.

Failing asserts never print a page or a stored value: each names what leaked, not its text."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from support.casework import (
    act,
    came_back,
    case_url,
    field_error,
    follow_up_json,
    load_form,
    stored,
    text_of,
    textarea_value,
)
from support.factories import gen_concern
from support.present import found, nowhere_in_plain
from werkzeug.test import TestResponse

MESSAGE = "Thank you for telling us about ward 9's night shift; could you say which week it was?"
NOTE = "Rota for ward 9 checked: three nights short in March."
CLOSING_WORDS = "We spoke to the matron and the ward now has a second nurse on nights."


def _folded(page: str, anchor: str) -> str:
    """Whether the folded section ``anchor`` (a details element) is open or closed on the page."""
    tag = found(rf'<details class="nhsuk-details speakup-fold" id="{anchor}"( open)?>', page, group=0)
    return "open" if tag.endswith(" open>") else "closed"


def _not_echoed(response: TestResponse, *secrets: str) -> None:
    body = response.get_data(as_text=True) + " ".join(f"{k}: {v}" for k, v in response.headers.items())
    assert response.status_code == 303
    assert not any(secret in body for secret in secrets), "typed words echoed in the answer to a POST"


def test_a_message_typed_then_a_note_saved_keeps_the_message(app: Flask, signed: FlaskClient) -> None:
    raised = gen_concern(signed)
    ref = raised["reference"]
    response = act(signed, ref, "notes", note=NOTE, body=MESSAGE)
    _not_echoed(response, NOTE, MESSAGE)
    page = text_of(signed.get(response.location))
    assert "Note added." in page
    assert NOTE in page and textarea_value(page, "note") == "", "the note was saved, its box emptied"
    assert textarea_value(page, "body") == MESSAGE, "the message's words are back in their box"
    assert "There is a problem" not in page
    assert _folded(page, "notes") == "open", "a note was just added: its section is open, showing it"
    assert _folded(page, "deadlines") == "closed" and _folded(page, "audit") == "closed"
    assert stored(app, ref).notes == 1 and stored(app, ref).messages == 0
    assert follow_up_json(app, raised["access_code"])["messages"] == [], "the message was not sent"
    nowhere_in_plain(app, MESSAGE, NOTE)
    # Kept for this screen only: another page and the words are forgotten.
    assert signed.get("/guardian/").status_code == 200
    assert textarea_value(text_of(signed.get(response.location)), "body") == ""


def test_a_refused_action_keeps_its_own_words_by_its_field_and_the_others(app: Flask, signed: FlaskClient) -> None:
    raised = gen_concern(signed)
    ref = raised["reference"]
    act(signed, ref, "status", status="acknowledged")
    response = act(signed, ref, "close", outcome="", closing_message=CLOSING_WORDS, note=NOTE, body=MESSAGE)
    _not_echoed(response, CLOSING_WORDS, NOTE, MESSAGE)
    page = came_back(signed, response)
    assert field_error(page, "outcome"), "the message is by the refused field"
    assert textarea_value(page, "closing_message") == CLOSING_WORDS
    assert textarea_value(page, "note") == NOTE and textarea_value(page, "body") == MESSAGE
    assert '<details class="nhsuk-details" id="close" open>' in page
    assert _folded(page, "notes") == "open", "a folded section with words kept in it is open"
    assert _folded(page, "deadlines") == "closed" and _folded(page, "audit") == "closed"
    assert stored(app, ref).status == "acknowledged" and stored(app, ref).notes == 0
    nowhere_in_plain(app, CLOSING_WORDS, NOTE, MESSAGE)


def test_a_second_send_of_the_same_press_acts_once_and_keeps_the_words(app: Flask, signed: FlaskClient) -> None:
    raised = gen_concern(signed)
    ref = raised["reference"]
    loaded = load_form(signed, ref)
    first = act(signed, ref, "notes", loaded, note=NOTE, body=MESSAGE)
    again = act(signed, ref, "notes", loaded, note=NOTE, body=MESSAGE)
    _not_echoed(again, NOTE, MESSAGE)
    assert again.location.partition("#")[0] == first.location.partition("#")[0]
    assert stored(app, ref).notes == 1, "the note was added once"
    assert textarea_value(text_of(signed.get(again.location)), "body") == MESSAGE
    # The same body sent from the message's button afterwards is a new press of the page's one token: refused.
    third = act(signed, ref, "messages", loaded, note=NOTE, body=MESSAGE)
    _not_echoed(third, NOTE, MESSAGE)
    assert stored(app, ref).messages == 0 and stored(app, ref).notes == 1


def test_a_message_typed_then_a_new_access_code_given_keeps_the_message(app: Flask, signed: FlaskClient) -> None:
    """The new-code button is a button of the same form: the slip is shown on a page of its own, and back on the
    case (by the slip's link, or once it is handed over) the words typed in the other sections are there again."""
    raised = gen_concern(signed, anonymity="confidential", name="Sam Nurse", contact="sam@example.org")
    ref = raised["reference"]
    response = act(signed, ref, "new-access-code", body=MESSAGE, note=NOTE)
    _not_echoed(response, MESSAGE, NOTE)
    assert response.location == "/guardian/new-access-code"
    slip = text_of(signed.get(response.location))
    assert "The old access code no longer works" in slip and MESSAGE not in slip
    back = found(r'<a href="(/guardian/cases/[^"]+)">Back to the case</a>', slip)
    page = text_of(signed.get(back))
    assert textarea_value(page, "body") == MESSAGE, "the message's words are back in their box"
    assert textarea_value(page, "note") == NOTE
    assert stored(app, ref).messages == 0 and stored(app, ref).notes == 0, "nothing else was done"
    nowhere_in_plain(app, MESSAGE, NOTE)
    # Handed over: back to the case, the words still there; then another page and they are forgotten.
    handed = signed.post(response.location, data={"csrf_token": found(r'name="csrf_token" value="([^"]+)"', slip)})
    assert handed.status_code == 303 and handed.location.partition("#")[0] == back
    page = text_of(signed.get(handed.location))
    assert "The new access code is no longer shown." in page
    assert textarea_value(page, "body") == MESSAGE
    assert signed.get("/guardian/").status_code == 200
    assert textarea_value(text_of(signed.get(back)), "body") == ""


def test_the_contents_list_comes_first_and_links_every_section(signed: FlaskClient) -> None:
    """Reachable without scrolling the whole page: the contents list is the first thing beside the concern, links
    every section the page has, and each section ends with a way back to it."""
    ref = gen_concern(signed)["reference"]
    page = text_of(signed.get(case_url(ref)))
    nav = found(r'<nav class="nhsuk-contents-list" id="contents"[^>]*>(.*?)</nav>', page, re.S)
    anchors = re.findall(r'href="#([^"]+)"', nav)
    sections = set(re.findall(r'<h2 id="([^"]+)"', page)) - {"status-heading", "time-out-heading"}
    sections |= set(re.findall(r'<details class="nhsuk-details[^"]*" id="([^"]+)"', page))  # the folded ones
    assert sections == set(anchors), "every section is in the contents list, and nothing else"
    assert page.index('id="contents"') < page.index('id="status-heading"'), "the contents list comes before Status"
    assert page.count('<a href="#contents">Back to top</a>') >= len(anchors) - 1
