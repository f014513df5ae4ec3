"""Two staff tools in Chromium: the admin's "Copy link" for a new enrolment link (added by the script: with
JavaScript off there is no button and the link is plain, selectable text), and the Team page's safety-code field,
wide enough to show a whole typed code at 320 px and 1280 px."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect
from support.browser import Visit, sign_in
from support.factories import gen_staff

WIDEST_CODE = "88888 88888 88888 88888"  # 20 digits in groups of five, as a safety code is shown


def _new_enrolment_link(visit: Visit) -> str:
    page = visit.page
    page.get_by_role("link", name="Add an account").click()
    page.get_by_label("Full name").fill("Nia New")
    page.get_by_label("Email address").fill(f"nia-{visit.label}@example.org")
    page.get_by_label("Role").select_option(label="Guardian")
    page.get_by_role("button", name="Create account").click()
    return page.locator("#enrolment-link").inner_text()


def test_the_enrolment_link_is_copied_by_its_button(app: Flask, live_server: str, browser: Browser):
    admin = gen_staff(app, email="ada@example.org", role="admin", name="Ada Admin")
    visit = Visit(browser, live_server, javascript=True, label="js-on-copy-link")
    visit.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    try:
        sign_in(visit, admin, landing="Staff accounts")
        link = _new_enrolment_link(visit)
        page = visit.page
        assert link.startswith("http") and "/enrol?token=" in link
        status = page.locator("#enrolment-link-copied")
        expect(status).to_have_text("")
        page.get_by_role("button", name="Copy link").click()
        expect(status).to_have_text("Link copied")
        assert page.evaluate("navigator.clipboard.readText()") == link
        visit.check("admin-enrolment-link-copied")
    finally:
        visit.close()


def test_without_javascript_there_is_no_copy_button_and_the_link_is_selectable_text(
    app: Flask, live_server: str, browser: Browser
):
    admin = gen_staff(app, email="ada@example.org", role="admin", name="Ada Admin")
    visit = Visit(browser, live_server, javascript=False, label="js-off-copy-link")
    try:
        sign_in(visit, admin, landing="Staff accounts")
        link = _new_enrolment_link(visit)
        page = visit.page
        expect(page.get_by_role("button", name="Copy link")).to_have_count(0)
        expect(page.locator("button", has_text="Copy")).to_have_count(0)
        code = page.locator("#enrolment-link")
        assert code.evaluate("el => getComputedStyle(el).userSelect") != "none"
        code.click(click_count=3)  # a triple click selects it, as someone copying it by hand would
        assert page.evaluate("window.getSelection().toString().trim()") == link
        visit.check("admin-enrolment-link-no-js")
    finally:
        visit.close()


@pytest.mark.parametrize("width", [320, 1280])
def test_the_safety_code_field_shows_the_whole_code_typed(app: Flask, live_server: str, browser: Browser, width: int):
    guardian = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    gen_staff(app, email="nia@example.org", name="Nia New", approved=False)
    visit = Visit(browser, live_server, javascript=True, label=f"safety-code-{width}")
    try:
        sign_in(visit, guardian)
        page = visit.goto("/guardian/team")
        page.set_viewport_size({"width": width, "height": 900})
        field = page.get_by_label("Safety code")
        field.fill(WIDEST_CODE)
        sizes = field.evaluate("el => ({scroll: el.scrollWidth, client: el.clientWidth})")
        assert sizes["scroll"] <= sizes["client"], f"at {width} px the field cuts the code off: {sizes}"
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the field makes the page scroll sideways at {width} px by {overflow}px"
    finally:
        visit.close()
