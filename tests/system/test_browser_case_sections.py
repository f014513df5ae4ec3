"""Issue 26, point 6 in Chromium, JavaScript on and off: on the guardian's case page, words typed in one section
survive pressing another section's button (the page's sections are one form, each button posting to its own action),
and the sections are reachable from a contents list on the first screen at 1280 px. Every page gets the usual checks
(axe-core, 320 and 1280 px screenshots, no sideways scroll, no other host)."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
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
        open_section(page, "notes", "Notes for guardians", javascript)
        page.get_by_label("Add a note").fill(NOTE)
        page.get_by_role("button", name="Add note").click()
        expect(page.locator("#case-done")).to_contain_text("Note added.")
        expect(page.locator("#notes .speakup-message").get_by_text(NOTE)).to_be_visible()
        expect(page.get_by_label("Message to the person who raised this", exact=True)).to_have_value(MESSAGE)
        expect(page.get_by_label("Add a note")).to_have_value("")
        staff.check("case-sections")

        # Then sent: the message goes, once, and its box is empty.
        page.get_by_role("button", name="Send message").click()
        expect(page.locator("#case-done")).to_contain_text("Message sent.")
        expect(page.get_by_label("Message to the person who raised this", exact=True)).to_have_value("")
    finally:
        staff.close()


def open_section(page: Page, anchor: str, link: str, javascript: bool) -> None:
    """Follows the contents list's link to a folded section. With JavaScript it opens the section; without, it
    leads to the section's summary (Chromium opens a details for a link into its content only, and other
    browsers not at all), on screen, which opens it."""
    section = page.locator(f"details#{anchor}")
    expect(section).not_to_have_attribute("open", "")
    page.get_by_role("navigation", name="Sections of this case").get_by_role("link", name=link, exact=True).click()
    assert page.url.endswith(f"#{anchor}")
    if not javascript:
        expect(section).not_to_have_attribute("open", "")
        summary = section.locator("summary")
        expect(summary).to_be_in_viewport()
        summary.click()
    expect(section).to_have_attribute("open", "")


HEIGHT_BEFORE = 5_825  # px at 1280 for this case (one message), measured with every section open, before folding


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_the_less_used_sections_are_folded(app: Flask, live_server: str, browser: Browser, javascript: bool):
    """The concern, the conversation with its reply box and the status are open; the other sections are folded
    (details), so the page is well under half its old height at 1280 px. A contents link opens its section; a
    section that comes back with an error, or with words kept in it, is open."""
    mode = "js-on" if javascript else "js-off"
    guardian = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    raised = gen_concern(app.test_client(), anonymity="confidential", name="Sam Nurse", contact="sam@example.org")
    staff = Visit(browser, live_server, javascript, f"{mode}-case-folded")
    try:
        sign_in(staff, guardian)
        page = staff.goto(case_address(app, raised["reference"]))
        page.get_by_label("Message to the person who raised this", exact=True).fill(MESSAGE)
        page.get_by_role("button", name="Send message").click()
        expect(page.locator("#case-done")).to_contain_text("Message sent.")
        height = page.evaluate("document.documentElement.scrollHeight")
        print(f"[{mode}] case page height at 1280 px: {height}px (was about {HEIGHT_BEFORE}px)")
        assert height < 3_000, f"the case page is {height}px high at 1280 px"
        notes = page.locator("details#notes")
        expect(page.get_by_label("Add a note")).to_be_hidden()
        staff.check("case-folded")

        open_section(page, "notes", "Notes for guardians", javascript)
        page.get_by_label("Add a note").fill(NOTE)
        page.get_by_label("Message to the person who raised this", exact=True).fill(MESSAGE)
        page.get_by_role("button", name="Send message").click()
        expect(page.locator("#case-done")).to_contain_text("Message sent.")
        expect(notes).to_have_attribute("open", "")  # its words were kept: open, and shown
        expect(page.get_by_label("Add a note")).to_have_value(NOTE)

        # A folded section refused comes back open, its message by its field.
        deadlines = page.locator("details#deadlines")
        open_section(page, "deadlines", "Deadlines", javascript)
        page.get_by_label("Day").fill("31")
        page.get_by_label("Month").fill("2")
        page.get_by_label("Year").fill("2020")
        page.get_by_role("button", name="Extend the deadline").click()
        expect(deadlines).to_have_attribute("open", "")
        expect(page.locator("#extend_day-error")).to_be_visible()
        expect(page.get_by_label("Add a note")).to_have_value(NOTE)
        staff.check("case-folded-error")
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
        open_section(page, "deadlines", "Deadlines", javascript=True)
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


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_a_message_survives_giving_a_new_access_code(app: Flask, live_server: str, browser: Browser, javascript: bool):
    """ "Give them a new access code" is a button of the case form: the message typed is kept while the slip is shown,
    and is in its box again back on the case."""
    mode = "js-on" if javascript else "js-off"
    guardian = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    raised = gen_concern(app.test_client(), anonymity="confidential", name="Sam Nurse", contact="sam@example.org")
    staff = Visit(browser, live_server, javascript, f"{mode}-case-new-code")
    try:
        sign_in(staff, guardian)
        page = staff.goto(case_address(app, raised["reference"]))
        message = page.get_by_label("Message to the person who raised this", exact=True)
        message.fill(MESSAGE)
        open_section(page, "new-access-code", "A lost access code", javascript)
        page.get_by_role("button", name="Give them a new access code").click()
        expect(page.get_by_role("heading", name="A new access code", level=1)).to_be_visible()
        expect(page.get_by_text(MESSAGE)).to_have_count(0)
        page.get_by_role("link", name="Back to the case").click()
        expect(message).to_have_value(MESSAGE)
        page.go_back()
        page.get_by_role("button", name="I have handed it over").click()
        expect(page.locator("#case-done")).to_contain_text("The new access code is no longer shown.")
        expect(message).to_have_value(MESSAGE)
        staff.check("case-after-new-code")
    finally:
        staff.close()
