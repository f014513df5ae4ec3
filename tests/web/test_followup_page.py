"""The reporter's case page laid out for them (issue 26, point 7): a banner at the top for the guardian's messages
they have not seen yet, linking to the first of them; "Sign out" in the header."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from support.factories import gen_concern
from support.html import post_form

BANNER = re.compile(r'id="new-messages".*?You have (\d+) new messages? from the guardian', re.S)


def _reporter(app: Flask, code: str) -> FlaskClient:
    reporter = app.test_client()
    assert post_form(reporter, "/follow-up", access_code=code).status_code == 303
    return reporter


def _guardian_writes(signed: FlaskClient, reference: str, body: str) -> None:
    url = f"/guardian/cases/{reference}"
    assert post_form(signed, url, f"{url}/messages", body=body).status_code == 303


def _case_page(reporter: FlaskClient) -> str:
    return reporter.get("/follow-up/case").get_data(as_text=True)


def _banner_count(page: str) -> int | None:
    match = BANNER.search(page)
    return int(match.group(1)) if match else None


def test_new_guardian_messages_are_announced_at_the_top_until_seen(app, signed):
    raised = gen_concern(signed)
    reporter = _reporter(app, raised["access_code"])
    assert _banner_count(_case_page(reporter)) is None
    _guardian_writes(signed, raised["reference"], "Thank you for telling us.")
    _guardian_writes(signed, raised["reference"], "Could you tell us which ward?")
    page = _case_page(reporter)
    assert _banner_count(page) == 2
    # At the top of the page, before its heading, and linking to the first new message.
    assert page.index('id="new-messages"') < page.index("<h1>Your concern</h1>")
    assert 'href="#first-new-message"' in page
    first = page.split('id="first-new-message"')[1]
    assert "Thank you for telling us." in first.split("</li>")[0]
    # Seen once: the banner goes.
    assert _banner_count(_case_page(reporter)) is None
    _guardian_writes(signed, raised["reference"], "One more thing.")
    page = _case_page(reporter)
    assert _banner_count(page) == 1 and "You have 1 new message from the guardian" in page
    assert "One more thing." in page.split('id="first-new-message"')[1].split("</li>")[0]


def test_seen_messages_stay_seen_after_signing_in_again(app, signed):
    raised = gen_concern(signed)
    _guardian_writes(signed, raised["reference"], "Thank you for telling us.")
    assert _banner_count(_case_page(_reporter(app, raised["access_code"]))) == 1
    assert _banner_count(_case_page(_reporter(app, raised["access_code"]))) is None


def test_the_reporters_own_messages_are_not_announced(app, signed):
    raised = gen_concern(signed)
    reporter = _reporter(app, raised["access_code"])
    post_form(reporter, "/follow-up/case", "/follow-up/case/messages", body="More detail: it happened twice")
    page = _case_page(reporter)
    assert _banner_count(page) is None and 'id="new-messages"' not in page


def test_sign_out_is_in_the_header(app, signed):
    raised = gen_concern(signed)
    page = _case_page(_reporter(app, raised["access_code"]))
    header = page.split("</header>")[0]
    assert 'id="sign-out-form"' in header and 'action="/follow-up/sign-out"' in header
    assert '>Sign out<span class="nhsuk-u-visually-hidden"> of this concern</span></button>' in header
