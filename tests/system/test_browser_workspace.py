"""Issue 16 in Chromium, JavaScript on and off: the trust's name in the header, a one-character typo in the access
code, the concern's words as body text, the guardian's queue and case page (a success message after every action),
and the reporter's page after closing. Every page gets the usual checks (axe-core, 320 and 1280 px screenshots,
no sideways scroll, no other host)."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect
from support.browser import Visit, continue_and_submit, sign_in
from support.factories import gen_staff
from support.present import present

from speakup.crypto import access_codes

TRUST = "Northshire Hospitals NHS Foundation Trust"
WORDS = "The controlled drugs cupboard on ward 5 was left open during the night shift."
GREEN = "rgb(0, 112, 60)"  # the design system's green tag text


@pytest.fixture
def app_overrides() -> dict[str, object]:
    return {
        "ORGANISATION_NAME": TRUST,
        "SUBMIT_RATE_LIMIT": "100 per minute",
        "ACCESS_CODE_RATE_LIMIT": "100 per minute",
    }


def _one_typo(code: str) -> str:
    """The code with one character changed: the check character catches it."""
    plain = access_codes.normalise_access_code(code)
    wrong = next(c for c in access_codes.ALPHABET if c != plain[5])
    return access_codes.format_access_code(plain[:5] + wrong + plain[6:])


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_the_workspace_and_the_reporter_pages(app: Flask, live_server: str, browser: Browser, javascript: bool):
    mode = "js-on" if javascript else "js-off"
    guardian = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    reporter = Visit(browser, live_server, javascript, f"{mode}-workspace-reporter")
    staff = Visit(browser, live_server, javascript, f"{mode}-workspace-guardian")
    try:
        page = reporter.goto("/raise")
        expect(page.locator("header")).to_contain_text(TRUST)
        expect(page.locator("footer")).to_contain_text(TRUST)
        page.get_by_label("What happened?").fill(WORDS)
        page.get_by_role("group", name="How do you want to raise this concern?").get_by_label("Confidentially").check()
        page.get_by_label("Your name").fill("Priya Shah")
        continue_and_submit(page)
        code = page.locator("#access-code").inner_text()
        expect(page.get_by_text("It does not open anything: only your access code does.")).to_be_visible()

        # A one-character typo is named as such and kept in the box; the right code then opens the concern.
        page = reporter.goto("/follow-up")
        typo = _one_typo(code)
        page.get_by_label("Access code").fill(typo)
        page.get_by_role("button", name="Continue").click()
        expect(page.locator("#access_code-error")).to_contain_text("typing mistake")
        expect(page.get_by_label("Access code")).to_have_value(typo)
        reporter.check("follow-up-typo")
        page.get_by_label("Access code").fill(code)
        page.get_by_role("button", name="Continue").click()
        concern = page.locator("#concern-text")
        expect(concern).to_have_text(WORDS)
        body_size = page.evaluate("getComputedStyle(document.querySelector('main p:not([class])')).fontSize")
        assert concern.evaluate("e => getComputedStyle(e).fontSize") == body_size
        assert float(concern.evaluate("e => parseFloat(getComputedStyle(e).marginBottom)")) > 0
        expect(page.locator("#what-you-gave")).to_contain_text("Priya Shah")

        # The guardian's queue and case page.
        sign_in(staff, guardian)
        gpage = staff.page
        expect(gpage.locator("#cases-shown")).to_have_text("Showing 1 case.")
        tag = gpage.locator("tbody .nhsuk-tag").last
        assert tag.evaluate("e => getComputedStyle(e).color") != GREEN
        staff.check("workspace-queue")
        gpage.locator("tbody a").first.click()
        gpage.get_by_label("Status", exact=True).select_option(label="Acknowledged")
        gpage.get_by_role("button", name="Update status").click()
        expect(gpage.locator("#case-done")).to_contain_text("Status changed to Acknowledged.")
        gpage.get_by_label("Message to the person who raised this", exact=True).fill("Thank you. Which night?")
        gpage.get_by_role("button", name="Send message").click()
        expect(gpage.locator("#case-done")).to_contain_text("Message sent.")
        staff.check("workspace-case")
        gpage.get_by_role("link", name="Closing the case").click()
        if gpage.locator("details#close").get_attribute("open") is None:  # the link opens it with JavaScript on
            gpage.locator("#close summary").click()  # a native <details>: opens with or without JavaScript
        gpage.get_by_label("Outcome").select_option(label="Resolved")
        gpage.get_by_label("Closing message to the person who raised this").fill("The cupboard now locks itself.")
        gpage.get_by_role("button", name="Close case").click()
        expect(gpage.locator("#case-done")).to_contain_text("Case closed.")
        # The board report: its tables (those not folded under a chart) scroll inside their own box, so the page never
        # scrolls sideways at 320 px.
        board = staff.goto("/guardian/board")
        expect(board.locator(".speakup-table-scroll:visible").first).to_be_visible()
        staff.check("workspace-board")

        # The reporter's page after closing: no promises, the question after the message it asks about.
        page.reload()
        expect(page.locator("#closed-on")).to_be_visible()
        expect(page.get_by_text("We aim to tell you what was done by")).to_have_count(0)
        closing = page.get_by_text("The cupboard now locks itself.").bounding_box()
        question = page.get_by_role("group", name="Given your experience, would you speak up again?").bounding_box()
        assert present(closing, "the closing message's box")["y"] < present(question, "the question's box")["y"]
        reporter.check("follow-up-closed-order")
    finally:
        reporter.close()
        staff.close()
