import re

import pytest
from support.factories import gen_concern
from support.html import AuthActions, post_form
from support.present import found

TRUST = "Anytown & District NHS Foundation Trust"


def test_home_links(client):
    page = client.get("/").get_data(as_text=True)
    assert "Raise a concern" in page and "Check on a concern you raised" in page


def test_raise_and_follow_up(client):
    raised = gen_concern(client)
    r = post_form(client, "/follow-up", access_code=raised["access_code"])
    assert r.status_code == 303, r.get_data(as_text=True)
    page = client.get("/follow-up/case").get_data(as_text=True)
    assert "night shift" in page


def _header_and_footer(page: str) -> tuple[str, str]:
    header = found(r"<header\b.*?</header>", page, re.S, group=0)
    footer = found(r"<footer\b.*?</footer>", page, re.S, group=0)
    return header, footer


@pytest.mark.parametrize("app_overrides", [{"ORGANISATION_NAME": TRUST}], indirect=True)
def test_header_and_footer_name_the_trust_on_staff_and_guardian_pages(client, guardian):
    escaped = "Anytown &amp; District NHS Foundation Trust"
    pages = [client.get(url).get_data(as_text=True) for url in ("/", "/raise", "/follow-up", "/guardian/sign-in")]
    AuthActions(client).sign_in(guardian)
    pages.append(client.get("/guardian/").get_data(as_text=True))
    for page in pages:
        header, footer = _header_and_footer(page)
        assert f'<span class="nhsuk-header__organisation-name">{escaped}</span>' in header
        assert f'aria-label="NHS {escaped} Speak Up homepage"' in header  # the link's name holds what it shows
        assert f"Speak Up for {escaped}." in footer
        assert f"– Speak Up – {escaped}</title>" in page
        assert "Your NHS trust" not in page


def test_the_default_name_shows_until_one_is_configured(client):
    header, footer = _header_and_footer(client.get("/").get_data(as_text=True))
    assert "Your NHS trust" in header and "Your NHS trust" in footer
