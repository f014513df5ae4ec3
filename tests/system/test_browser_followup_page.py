"""The reporter's case page in Chromium, with JavaScript on and off (issue 26, point 7): the guardian's new messages
announced in a banner at the top, whose link goes to the first of them; "Sign out" in the header, which signs out
as before; axe-core clean."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect
from support.browser import Visit
from support.factories import Staff, gen_concern
from support.html import AuthActions, post_form, walk_to

FIRST = "Thank you for telling us. Could you say which ward?"
SECOND = "We have spoken to the ward manager."


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_new_messages_at_the_top_and_sign_out_in_the_header(
    app: Flask, live_server: str, browser: Browser, guardian: Staff, javascript: bool
):
    staff = app.test_client()
    AuthActions(staff).signed_in(guardian)
    raised = gen_concern(staff)
    url = f"/guardian/cases/{raised['reference']}"
    for body in (FIRST, SECOND):
        assert post_form(staff, url, f"{url}/messages", body=body).status_code == 303
    mode = "js-on" if javascript else "js-off"
    visit = Visit(browser, live_server, javascript, f"{mode}-follow-up-new-messages")
    try:
        page = visit.goto("/follow-up")
        page.get_by_label("Access code").fill(raised["access_code"])
        page.get_by_role("button", name="Continue").click()
        banner = page.locator("#new-messages")
        expect(banner).to_contain_text("You have 2 new messages from the guardian")
        # At the top: above the page's heading, in the first screen.
        box, heading = banner.bounding_box(), page.get_by_role("heading", level=1).bounding_box()
        assert box and heading and box["y"] < heading["y"] and box["y"] < 900
        visit.check("follow-up-new-messages")
        banner.get_by_role("link").click()
        assert page.url.endswith("#first-new-message")
        expect(page.locator("#first-new-message")).to_contain_text(FIRST)
        expect(page.locator("#first-new-message")).to_be_in_viewport()
        page.reload()
        expect(page.locator("#case-status")).to_be_visible()
        expect(page.locator("#new-messages")).to_have_count(0)  # seen: no longer new
        sign_out = page.get_by_role("banner").get_by_role("button", name="Sign out of this concern")
        sign_out_box = sign_out.bounding_box()
        assert sign_out_box and sign_out_box["y"] < 200
        sign_out.click()
        expect(page.get_by_text("You have signed out of your concern")).to_be_visible()
        page.goto(live_server + "/follow-up/case")
        expect(page.get_by_label("Access code")).to_have_value("")
    finally:
        visit.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_after_closing_one_form_and_its_errors_at_the_top(
    app: Flask, live_server: str, browser: Browser, guardian: Staff, javascript: bool
):
    staff = app.test_client()
    AuthActions(staff).signed_in(guardian)
    raised = gen_concern(staff)
    walk_to(staff, raised["reference"], "acknowledged", "closed")
    mode = "js-on" if javascript else "js-off"
    visit = Visit(browser, live_server, javascript, f"{mode}-follow-up-after-closing")
    try:
        page = visit.goto("/follow-up")
        page.get_by_label("Access code").fill(raised["access_code"])
        page.get_by_role("button", name="Continue").click()
        form = page.locator("#after-closing")
        expect(form.get_by_role("button")).to_have_count(1)
        form.get_by_role("group", name="Have you been treated worse because you spoke up? (optional)").get_by_label(
            "No"
        ).check()
        form.get_by_role("button", name="Send your answers").click()
        summary = page.locator(".nhsuk-error-summary")
        expect(summary).to_contain_text("Choose yes, no, maybe or I don't know")
        box, heading = summary.bounding_box(), page.get_by_role("heading", level=1).bounding_box()
        assert box and heading and box["y"] < heading["y"]
        visit.check("follow-up-after-closing-error")
        summary.get_by_role("link").click()
        if javascript:  # the design system's summary moves focus to the field itself
            expect(page.locator("#speak_up_again")).to_be_focused()
        expect(page.locator("#detriment-no")).to_be_checked()  # the other answer kept
        page.locator("#speak_up_again").check()
        page.get_by_role("button", name="Send your answers").click()
        expect(page.locator("#after-closing")).to_have_count(0)
        assert "detriment" not in page.locator("body").inner_text().lower()
    finally:
        visit.close()
