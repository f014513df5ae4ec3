"""The reporter's confirmation and follow-up pages say what is true at each point: the
access code is the one thing to keep and the reference is explained; the concern's words read as body text; after
closing nothing promises what is already done, the feedback question follows the closing message it asks about,
and a person who gave their name and contact can see what they gave."""

from __future__ import annotations

import pytest
from markupsafe import escape
from support.factories import gen_concern
from support.html import post_form, reporter_case_page, send_raise_form, walk_to

CLOSING = "We have added a second nurse to every night shift on ward 7."


def test_the_confirmation_explains_the_reference_and_keeps_the_code_as_the_thing_to_save(app, client):
    page = send_raise_form(client, what_happened="The night shift was unsafe.", anonymity="anonymous")
    text = page.get_data(as_text=True)
    assert "It does not open anything: only your access code does." in text
    assert '<strong id="case-reference">' not in text  # the reference is not dressed up as the thing to keep
    assert text.index('id="access-code"') < text.index('id="case-reference"')


def test_the_concern_reads_as_body_text(app, client):
    raised = gen_concern(client, what_happened="Words of the concern")
    assert '<p class="speakup-text" id="concern-text">Words of the concern</p>' in reporter_case_page(
        app, raised["access_code"]
    )


def test_an_open_case_promises_dates_and_an_acknowledged_one_stops_promising_to_read_it(app, signed):
    raised = gen_concern(signed)
    page = reporter_case_page(app, raised["access_code"])
    assert "A guardian will read it by" in page and "We aim to tell you what was done by" in page
    walk_to(signed, raised["reference"], "acknowledged")
    page = reporter_case_page(app, raised["access_code"])
    assert "A guardian will read it by" not in page and "We aim to tell you what was done by" in page


def test_a_closed_case_promises_nothing_and_asks_after_the_closing_message(app, signed):
    raised = gen_concern(signed)
    reference = raised["reference"]
    walk_to(signed, reference, "acknowledged")
    url = f"/guardian/cases/{reference}"
    version = signed.get(url).get_data(as_text=True).split('name="version" value="')[1].split('"')[0]
    closed = post_form(signed, url, f"{url}/close", outcome="resolved", closing_message=CLOSING, version=version)
    assert closed.status_code == 303
    page = reporter_case_page(app, raised["access_code"])
    assert "A guardian will read it by" not in page and "We aim to tell you what was done by" not in page
    assert 'id="closed-on"' in page
    question = page.index("Given your experience, would you speak up again?")
    assert page.index(str(escape(CLOSING))) < question


@pytest.mark.parametrize("anonymity", ["confidential", "open"])
def test_a_named_reporter_sees_the_name_and_contact_they_gave(app, client, anonymity):
    raised = gen_concern(client, anonymity=anonymity, name="Priya Shah", contact="Extension 4471")
    page = reporter_case_page(app, raised["access_code"])
    assert "Your name" in page and "Priya Shah" in page
    assert "How to contact you" in page and "Extension 4471" in page


def test_an_anonymous_reporter_sees_no_identity_rows(app, client):
    page = reporter_case_page(app, gen_concern(client, where="Ward 7")["access_code"])
    assert "Your name" not in page and "How to contact you" not in page
    assert "Ward 7" in page
