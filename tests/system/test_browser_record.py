"""In Chromium, JavaScript on and off: a guardian records a concern raised in person, hands over the access code,
and the person follows it up online. Every page is checked as in test_browser.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect
from sqlalchemy import select
from support.browser import Visit, sign_in
from support.factories import gen_concern, gen_staff
from support.html import AuthActions, walk_to
from support.present import scalar

from speakup.crypto import access_codes
from speakup.platform import clock
from speakup.platform.models import Case, db

WORDS = "My manager told me to sign off fridge temperatures I had not checked."


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_a_guardian_records_an_in_person_concern_and_the_person_follows_it_up(
    app: Flask, live_server: str, browser: Browser, javascript: bool
):
    mode = "js-on" if javascript else "js-off"
    guardian = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    staff = Visit(browser, live_server, javascript, f"{mode}-recorder")
    person = Visit(browser, live_server, javascript, f"{mode}-person")
    try:
        sign_in(staff, guardian)
        page = staff.page
        page.get_by_role("link", name="Record a concern").click()
        staff.check("record")

        # A first try without saying how it was raised: the message is by the field, the words stay.
        page.get_by_label("What happened?").fill(WORDS)
        page.get_by_role("button", name="Record concern").click()
        expect(page.locator("#channel-error")).to_contain_text("Choose how the concern was raised")
        expect(page.get_by_label("What happened?")).to_have_value(WORDS)
        staff.check("record-error")

        page.get_by_role("group", name="How was it raised?").get_by_label("In person").check()
        page.get_by_role("group", name="How does the person want to raise it?").get_by_label("Confidentially").check()
        page.get_by_label("Their name").fill("Priya Nurse")
        page.get_by_label("Give them an access code to follow up online").check()
        page.get_by_role("button", name="Record concern").click()
        code = page.locator("#access-code").inner_text()
        reference = page.locator("#case-reference").inner_text()
        assert access_codes.normalise_access_code(code)
        expect(page.locator("#access-code-slip")).not_to_contain_text(WORDS)
        staff.check("recorded")

        page.get_by_role("link", name="Open the case").click()
        expect(page.get_by_text(WORDS)).to_be_visible()
        expect(page.locator("#case-channel")).to_have_text("In person, recorded by a guardian")
        page.get_by_label("Message to the person who raised this", exact=True).fill("Thank you for telling me.")
        page.get_by_role("button", name="Send message").click()

        # The person, on their own computer, with the slip.
        reporter = person.goto("/follow-up")
        reporter.get_by_label("Access code").fill(code)
        reporter.get_by_role("button", name="Continue").click()
        expect(reporter.get_by_text("Thank you for telling me.")).to_be_visible()
        expect(reporter.get_by_text(reference)).to_be_visible()
        person.check("follow-up-recorded")
        reporter.get_by_label("Your message").fill("It happened again last night.")
        reporter.get_by_role("button", name="Send message").click()
        expect(reporter.get_by_text("It happened again last night.")).to_be_visible()

        page.reload()
        expect(page.get_by_text("It happened again last night.")).to_be_visible()
    finally:
        staff.close()
        person.close()
    assert staff.pages_checked >= 4 and person.pages_checked >= 1


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_the_other_ways_accessibility_and_privacy_pages_pass_the_checks(
    live_server: str, browser: Browser, javascript: bool
):
    visit = Visit(browser, live_server, javascript, f"{'js-on' if javascript else 'js-off'}-other-ways")
    try:
        page = visit.goto("/")
        page.get_by_role("link", name="Other ways to speak up").click()
        expect(page.get_by_role("heading", name="Other ways to speak up", level=1)).to_be_visible()
        visit.check("other-ways")
        for link, heading in (("Accessibility statement", "accessibility"), ("Privacy notice", "privacy")):
            page.get_by_role("contentinfo").get_by_role("link", name=link).click()
            expect(page.get_by_role("heading", name=link, level=1)).to_be_visible()
            visit.check(heading)
    finally:
        visit.close()


def test_a_check_in_after_closing_passes_the_checks_and_flags_a_yes(app: Flask, live_server: str, browser: Browser):
    guardian = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    staff = app.test_client()
    assert AuthActions(staff).sign_in(guardian).status_code == 303
    raised = gen_concern(staff)
    walk_to(staff, raised["reference"], "acknowledged", "closed")
    with app.app_context():
        case = scalar(select(Case).where(Case.reference == raised["reference"]))
        case.closed_at = clock.utcnow() - timedelta(days=91)
        db.session.commit()
    visit = Visit(browser, live_server, False, "js-off-check-in")
    try:
        page = visit.goto("/follow-up")
        page.get_by_label("Access code").fill(raised["access_code"])
        page.get_by_role("button", name="Continue").click()
        question = page.get_by_role("group", name="Since your case was closed, have you been treated worse")
        expect(question).to_be_visible()
        visit.check("check-in")
        question.get_by_label("Yes", exact=True).check()
        # The feedback was never given: asked in the same form, sent by its one button.
        again = page.get_by_role("group", name="Given your experience, would you speak up again?")
        again.get_by_label("Maybe", exact=True).check()
        page.get_by_role("button", name="Send your answers").click()
        expect(question).to_have_count(0)
    finally:
        visit.close()
    assert "Detriment after closing" in staff.get("/guardian/").get_data(as_text=True)
