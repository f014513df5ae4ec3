"""Other ways to speak up: a page from the trust's settings, linked from the home page and the
confirmation, with no contact written into the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from support.apps import make_app
from support.factories import gen_concern
from support.html import send_raise_form
from support.present import found

from speakup import ConfigurationError, defaults

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
    # The trust's list replaces the shipped one: no body it left out is shown.
    assert "Protect" not in html and "nmc.org.uk" not in html


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


# The bodies outside the trust that staff in England can go to, as shipped, each with its web address. The National
# Guardian's Office closed in 2026: sending frightened staff to a body that no longer exists would waste their nerve.
SHIPPED = {
    "Care Quality Commission (CQC)": "https://www.cqc.org.uk",
    "NHS England": "https://www.england.nhs.uk",
    "Nursing and Midwifery Council (NMC)": "https://www.nmc.org.uk",
    "General Medical Council (GMC)": "https://www.gmc-uk.org",
    "Health and Care Professions Council (HCPC)": "https://www.hcpc-uk.org",
    "Protect": "https://protect-advice.org.uk",
}


def _routes(html: str) -> dict[str, str]:
    block = found(r'<ul[^>]*id="external-routes"[^>]*>(.*?)</ul>', html, re.S)
    items = re.findall(r"<li>(.*?)</li>", block, re.S)
    routes = {}
    for item in items:
        name = found(r"<strong>(.*?)</strong>", item).replace("&#39;", "'")
        link = re.search(r'<a [^>]*href="([^"]+)"[^>]*>([^<]+)</a>', item)
        assert link, f"{name} has no web address"
        assert link.group(2) == link.group(1).removeprefix("https://").removeprefix("www.")  # readable address
        routes[name] = link.group(1)
    return routes


def test_as_shipped_each_body_outside_the_trust_is_listed_with_its_address(app: Flask):
    app.config["EXTERNAL_ROUTES"] = defaults.EXTERNAL_ROUTES
    html = app.test_client().get("/other-ways").get_data(as_text=True)
    assert _routes(html) == SHIPPED
    assert "not part of Your NHS trust" in html  # said plainly: these are outside the trust
    assert "protects you" in html  # and going to them is protected


def test_no_phone_number_is_shipped():
    # A number goes stale and a wrong one fails someone at the worst time: the trust adds any it wants.
    assert all("contact" not in body for body in defaults.EXTERNAL_ROUTES)
    assert re.search(r"\d{3}", repr(defaults.EXTERNAL_ROUTES)) is None


@pytest.mark.parametrize(
    "routes",
    [
        [{"name": "CQC", "web": "javascript:alert(1)"}],
        [{"name": "CQC", "web": "cqc.org.uk"}],
        [{"about": "No name"}],
        [{"name": "CQC", "phone": "0300"}],
        "CQC",
    ],
)
def test_a_route_that_is_not_a_name_and_an_https_address_is_refused_at_start_up(database_url: str, routes):
    with pytest.raises(ConfigurationError, match="SPEAKUP_EXTERNAL_ROUTES"):
        make_app(database_url, EXTERNAL_ROUTES=routes)
