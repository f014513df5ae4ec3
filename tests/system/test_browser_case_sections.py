"""Issue 26, point 6 in Chromium, JavaScript on and off: on the guardian's case page, words typed in one section
survive pressing another section's button (the page's sections are one form, each button posting to its own action),
and the sections are reachable from a contents list on the first screen at 1280 px. Every page gets the usual checks
(axe-core, 320 and 1280 px screenshots, no sideways scroll, no other host)."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect
from support.browser import Visit, sign_in
from support.factories import gen_concern, gen_staff
from support.html import case_address

MESSAGE = "Thank you for raising this. Could you tell me which week the rota was short?"
NOTE = "Rota checked with the ward manager: three nights short."


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_a_message_survives_saving_a_note(app: Flask, live_server: str, browser: Browser, javascript: bool):
    mode = "js-on" if javascript else "js-off"
    guardian = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    reference = gen_concern(app.test_client())["reference"]
    staff = Visit(browser, live_server, javascript, f"{mode}-case-sections")
    try:
        sign_in(staff, guardian)
        page = staff.goto(case_address(app, reference))
        # The contents list is on the first screen at 1280 px, and links every section.
        contents = page.get_by_role("navigation", name="Sections of this case")
        box = contents.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 900, "the contents list is below the first screen"
        expect(contents.get_by_role("link", name="Notes for guardians")).to_be_visible()
        expect(page.get_by_label("Status", exact=True)).to_have_value("")

        page.get_by_label("Message to the person who raised this", exact=True).fill(MESSAGE)
        page.get_by_label("Add a note").fill(NOTE)
        page.get_by_role("button", name="Add note").click()
        expect(page.locator("#case-done")).to_contain_text("Note added.")
        expect(page.locator("#notes ~ .speakup-message").get_by_text(NOTE)).to_be_visible()
        expect(page.get_by_label("Message to the person who raised this", exact=True)).to_have_value(MESSAGE)
        expect(page.get_by_label("Add a note")).to_have_value("")
        staff.check("case-sections")

        # Then sent: the message goes, once, and its box is empty.
        page.get_by_role("button", name="Send message").click()
        expect(page.locator("#case-done")).to_contain_text("Message sent.")
        expect(page.get_by_label("Message to the person who raised this", exact=True)).to_have_value("")
    finally:
        staff.close()


def test_enter_in_a_one_line_field_sends_nothing(app: Flask, live_server: str, browser: Browser):
    """With every section one form, Enter in a one-line field (the deadline's date boxes, say) would have sent the
    page's first button, "Update status", with whatever status was chosen. Enter does nothing on this page."""
    guardian = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    reference = gen_concern(app.test_client())["reference"]
    staff = Visit(browser, live_server, True, "js-on-case-enter")
    try:
        sign_in(staff, guardian)
        page = staff.goto(case_address(app, reference))
        status = page.get_by_label("Status", exact=True)
        chosen = status.locator("option").nth(1).get_attribute("value")
        assert chosen
        status.select_option(chosen)
        field = page.locator("#case-form input[type=text], #case-form input:not([type])").first
        field.fill("12")
        field.press("Enter")
        page.wait_for_timeout(500)
        expect(page.locator("#case-done")).to_have_count(0)
        with app.app_context():
            from sqlalchemy import select

            from speakup.platform.models import Case, db

            assert db.session.scalar(select(Case.status).where(Case.reference == reference)) == "received"
    finally:
        staff.close()
