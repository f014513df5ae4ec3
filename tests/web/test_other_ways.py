"""Other ways to speak up: a page from the trust's settings, linked from the home page and the
confirmation, with no contact written into the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.factories import gen_concern
from support.html import send_raise_form

TEMPLATE = Path(__file__).resolve().parents[2] / "speakup" / "templates" / "report" / "other_ways.html"
CONTACTS = [{"name": "Gita Guardian", "role": "Freedom to Speak Up guardian", "contact": "Extension 4321"}]


@pytest.fixture
def app_overrides() -> dict[str, object]:
    return {
        "SPEAK_UP_CONTACTS": CONTACTS,
        "EXTERNAL_ROUTES": [
            {"name": "Care Quality Commission (CQC)", "about": "The regulator.", "contact": "Call 0300 000 0000."}
        ],
        "EMERGENCY_ADVICE": "If someone is in danger now, call 999.",
    }


def test_the_page_shows_the_trusts_own_contacts_and_routes(client):
    page = client.get("/other-ways")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<p id="emergency-advice">If someone is in danger now, call 999.</p>' in html
    assert "Gita Guardian" in html and "Extension 4321" in html and "Freedom to Speak Up guardian" in html
    assert "Care Quality Commission (CQC)" in html and "Call 0300 000 0000." in html
    assert "line manager" in html


def test_it_is_linked_from_the_home_page_and_the_confirmation(client):
    assert 'href="/other-ways"' in client.get("/").get_data(as_text=True)
    confirmation = send_raise_form(client, what_happened="The rota is unsafe.", anonymity="anonymous")
    assert confirmation.status_code == 200 and 'href="/other-ways"' in confirmation.get_data(as_text=True)
    assert gen_concern(client)  # the API answer carries no page, and needs none


def test_no_number_is_written_into_the_page_itself():
    # Every number a person might call comes from the settings: the template holds none, not even 999.
    assert re.search(r"\d{3}", TEMPLATE.read_text()) is None


def test_without_contacts_the_page_still_says_how_to_find_a_guardian(app):
    app.config["SPEAK_UP_CONTACTS"] = []
    html = app.test_client().get("/other-ways").get_data(as_text=True)
    assert "Your Freedom to Speak Up guardian can talk to you" in html and 'id="speak-up-contacts"' not in html
