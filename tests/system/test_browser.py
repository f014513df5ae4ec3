"""Real-browser tests: Debian's Chromium driven by Playwright, with JavaScript on and off.

Every page of the whole journey is found by the accessible names docs/interface.md pins, checked with
axe-core (no serious or critical WCAG 2.2 A/AA violation), screenshotted at 320 px and 1280 px into
screenshots/ (ignored by git), checked for horizontal scrolling at 320 px, and watched for any
request to another host.
"""

from __future__ import annotations

import base64
import re

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect
from support.browser import Visit, run_axe, sign_in
from support.factories import enrolment_code, gen_staff

from speakup.crypto import access_codes


@pytest.fixture
def app_overrides() -> dict[str, object]:
    # A person's pace, not a robot's: the journey raises and checks codes more than the defaults allow.
    return {"SUBMIT_RATE_LIMIT": "100 per minute", "ACCESS_CODE_RATE_LIMIT": "100 per minute"}


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_the_whole_journey(app: Flask, live_server: str, browser: Browser, javascript: bool):
    mode = "js-on" if javascript else "js-off"
    guardian = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    reporter = Visit(browser, live_server, javascript, f"{mode}-reporter")
    staff = Visit(browser, live_server, javascript, f"{mode}-guardian")
    try:
        # The reporter raises a concern.
        page = reporter.goto("/")
        reporter.check("home")
        page.get_by_role("link", name="Raise a concern").click()
        reporter.check("raise")
        page.get_by_label("What happened?").fill("The night shift on ward 7 was left with one nurse.")
        page.get_by_role("group", name="How do you want to raise this concern?").get_by_label("Anonymously").check()
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("heading", name="Check your answers before sending your concern")).to_be_visible()
        expect(page.locator("#answers-concern")).to_contain_text("The night shift on ward 7 was left with one nurse.")
        expect(page.locator("#anonymity-meaning")).to_contain_text("Nobody will be told who you are")
        reporter.check("check-answers")
        page.get_by_role("link", name="Change what happened").click()  # back to the form, every answer kept
        expect(page.get_by_label("What happened?")).to_have_value("The night shift on ward 7 was left with one nurse.")
        page.get_by_role("button", name="Continue").click()
        page.get_by_role("button", name="Submit concern").click()
        code = page.locator("#access-code").inner_text()
        reference = page.locator("#case-reference").inner_text()
        assert access_codes.normalise_access_code(code)
        reporter.check("confirmation")

        # The guardian signs in with a security code, acknowledges and writes.
        sign_in(staff, guardian)
        gpage = staff.page
        staff.check("queue")
        gpage.get_by_role("link", name=reference).click()
        expect(gpage.get_by_text("The night shift on ward 7 was left with one nurse.")).to_be_visible()
        staff.check("case")
        gpage.get_by_label("Status", exact=True).select_option(label="Acknowledged")
        gpage.get_by_role("button", name="Update status").click()
        gpage.get_by_label("Message to the person who raised this", exact=True).fill("Thank you. Can you tell me when?")
        gpage.get_by_role("button", name="Send message").click()
        expect(gpage.get_by_text("Thank you. Can you tell me when?")).to_be_visible()

        # The reporter comes back with the code, reads and replies.
        page = reporter.goto("/")
        page.get_by_role("link", name="Check on a concern you raised").click()
        reporter.check("follow-up")
        page.get_by_label("Access code").fill(code.lower().replace("-", " "))
        page.get_by_role("button", name="Continue").click()
        expect(page.locator("#case-status")).to_have_text("A guardian has seen your concern")
        expect(page.get_by_text("Thank you. Can you tell me when?")).to_be_visible()
        reporter.check("follow-up-case")
        page.get_by_label("Your message").fill("Every night last week.")
        page.get_by_role("button", name="Send message").click()
        expect(page.get_by_text("Every night last week.")).to_be_visible()

        # The guardian closes the case with an outcome and a closing message.
        gpage.reload()
        expect(gpage.get_by_text("Every night last week.")).to_be_visible()
        gpage.get_by_text("Close this case").click()
        gpage.get_by_label("Outcome").select_option(label="Resolved")
        gpage.get_by_label("Closing message to the person who raised this").fill("Staffing has been increased.")
        gpage.get_by_role("button", name="Close case").click()
        expect(gpage.locator("#case-status")).to_have_text("Closed")
        staff.check("case-closed")

        # The reporter sees the outcome and answers the national feedback question.
        page.reload()
        expect(page.locator("#case-status")).to_have_text("Closed")
        expect(page.get_by_text("Staffing has been increased.")).to_be_visible()
        reporter.check("follow-up-closed")
        question = page.get_by_role("group", name="Given your experience, would you speak up again?")
        question.get_by_label("Yes", exact=True).check()
        page.get_by_role("button", name="Send your answers").click()
        expect(page.get_by_text("Thank you for answering")).to_be_visible()

        # Signing out of the concern forgets it on this computer.
        page.get_by_role("button", name="Sign out of this concern").click()
        expect(page.get_by_role("heading", name="You have signed out of your concern")).to_be_visible()
        reporter.check("signed-out")
        page = reporter.goto("/follow-up/case")
        expect(page.get_by_label("Access code")).to_be_visible()
    finally:
        reporter.close()
        staff.close()
    assert reporter.pages_checked >= 7 and staff.pages_checked >= 4


def test_errors_are_shown_next_to_the_field_and_keep_the_words(app: Flask, live_server: str, browser: Browser):
    visit = Visit(browser, live_server, javascript=False, label="js-off-errors")
    try:
        page = visit.goto("/raise")
        page.get_by_label("Where did it happen? (optional)").fill("Ward 7")
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("alert")).to_contain_text("There is a problem")
        expect(page.locator("#what_happened-error")).to_contain_text("Tell us what happened")
        expect(page.get_by_label("Where did it happen? (optional)")).to_have_value("Ward 7")
        visit.check("raise-errors")
    finally:
        visit.close()


def test_raising_a_concern_by_keyboard_alone(app: Flask, live_server: str, browser: Browser):
    visit = Visit(browser, live_server, javascript=True, label="keyboard")
    page = visit.goto("/raise")
    typed = set()
    try:
        for _ in range(80):
            page.keyboard.press("Tab")
            focused = page.evaluate(
                "() => ({id: document.activeElement.id, tag: document.activeElement.tagName,"
                " text: document.activeElement.textContent.trim()})"
            )
            if focused["id"] == "what_happened" and "text" not in typed:
                page.keyboard.type("Fire doors wedged open on the maternity unit.")
                typed.add("text")
            elif focused["id"] == "anonymity" and "radio" not in typed:
                page.keyboard.press("Space")
                typed.add("radio")
            elif focused["tag"] == "BUTTON" and focused["text"] == "Continue":
                assert typed == {"text", "radio"}, f"reached the button having filled only {typed}"
                page.keyboard.press("Enter")
                break
        expect(page.get_by_role("heading", name="Check your answers before sending your concern")).to_be_visible()
        for _ in range(40):  # on "Check your answers", on by keyboard to its button
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.textContent.trim()") == "Submit concern":
                page.keyboard.press("Enter")
                break
        expect(page.locator("#access-code")).to_be_visible()
        assert page.locator("#case-reference").inner_text().startswith("SU-")
    finally:
        visit.close()


def test_the_accessibility_check_catches_a_field_without_a_label(app: Flask, live_server: str, browser: Browser):
    """The checker itself must be able to fail: break the form on purpose and it must object."""
    visit = Visit(browser, live_server, javascript=True, label="defect")
    try:
        page = visit.goto("/raise")
        assert run_axe(page) == []
        page.evaluate("document.querySelector('label[for=what_happened]').remove()")
        found = {v["id"] for v in run_axe(page)}
        assert "label" in found
    finally:
        visit.close()


def test_no_page_loads_anything_from_another_host(app: Flask, live_server: str, browser: Browser):
    visit = Visit(browser, live_server, javascript=True, label="hosts")
    try:
        for path in (
            "/",
            "/raise",
            "/follow-up",
            "/other-ways",
            "/accessibility",
            "/privacy",
            "/guardian/sign-in",
            "/no-such-page",
        ):
            visit.goto(path)
            visit.page.wait_for_load_state("networkidle")
            assert visit.foreign_requests == [], path
            stylesheets = visit.page.evaluate("[...document.styleSheets].map(s => s.href)")
            assert stylesheets and all(re.match(re.escape(live_server), s or live_server) for s in stylesheets)
    finally:
        visit.close()


def test_name_and_contact_are_revealed_only_when_giving_a_name(app: Flask, live_server: str, browser: Browser):
    with_js = Visit(browser, live_server, javascript=True, label="reveal-js-on")
    without_js = Visit(browser, live_server, javascript=False, label="reveal-js-off")
    try:
        page = with_js.goto("/raise")
        group = page.get_by_role("group", name="How do you want to raise this concern?")
        expect(page.get_by_label("Your name")).to_be_hidden()
        group.get_by_label("Confidentially").check()
        expect(page.get_by_label("Your name")).to_be_visible()
        expect(group.get_by_label("Confidentially")).to_have_attribute("aria-controls", "identity")
        group.get_by_label("Anonymously").check()
        expect(page.get_by_label("Your name")).to_be_hidden()
        group.get_by_label("Openly").check()
        expect(page.get_by_label("Your name")).to_be_visible()
        with_js.check("raise-reveal")
        # Without JavaScript nothing is hidden.
        expect(without_js.goto("/raise").get_by_label("Your name")).to_be_visible()
    finally:
        with_js.close()
        without_js.close()


def test_admin_and_error_pages_pass_the_same_checks(app: Flask, live_server: str, browser: Browser):
    admin = gen_staff(app, email="ada@example.org", role="admin", name="Ada Admin")
    guardian = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    for javascript in (True, False):
        mode = "js-on" if javascript else "js-off"
        visit = Visit(browser, live_server, javascript, f"{mode}-admin")
        newcomer = Visit(browser, live_server, javascript, f"{mode}-newcomer")
        approver = Visit(browser, live_server, javascript, f"{mode}-approver")
        try:
            page = visit.goto("/no-such-page")
            expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
            visit.check("error-404")
            sign_in(visit, admin, landing="Staff accounts")
            visit.check("admin-accounts")
            page.get_by_role("link", name="Add an account").click()
            visit.check("admin-invite")
            page.get_by_label("Full name").fill("Nia New")
            page.get_by_label("Email address").fill(f"nia-{mode}@example.org")
            page.get_by_label("Role").select_option(label="Guardian")
            page.get_by_role("button", name="Create account").click()
            link = page.locator("#enrolment-link").inner_text()
            visit.check("admin-enrolment-link")
            expect(page.get_by_text("otpauth")).to_have_count(0)
            # The newcomer sets up their own account from the link, in their own browser.
            _enrol(newcomer, link[link.index("/enrol") :])
            safety_code = newcomer.page.locator("#safety-code").inner_text()
            # An approved guardian approves them on the Team page: a wrong code first, then the right one.
            sign_in(approver, guardian)
            team = approver.goto("/guardian/team")
            approver.check("team")
            team.get_by_label("Safety code").fill("00000 00000 00000 00000")
            team.get_by_role("button", name="Approve").click()
            expect(team.get_by_role("heading", name="There is a problem")).to_be_visible()
            approver.check("team-wrong-safety-code")
            team.get_by_label("Safety code").fill(safety_code)
            team.get_by_role("button", name="Approve").click()
            # The first Nia joins Gita alone; the second, with two guardians approved, needs both
            # (ROSTER_APPROVALS_REQUIRED).
            expect(team.get_by_text("Nia New is approved." if javascript else "(1 of 2 approvals)")).to_be_visible()
            approver.check("team-approved")
            sign_out = approver.goto("/guardian/")
            sign_out.get_by_role("button", name="Sign out").click()
            page = visit.goto("/guardian/")
            expect(page.get_by_role("heading", name="You cannot see this page")).to_be_visible()
            visit.check("error-403")
            visit.goto("/guardian/account/password")
            visit.check("password-change")
        finally:
            visit.close()
            newcomer.close()
            approver.close()


def _enrol(visit: Visit, path: str) -> None:
    """The newcomer's side of an enrolment link: a mismatched password first (errors next to the fields), then
    the password twice and a code from the text secret."""
    page = visit.goto(path)
    visit.check("enrol")
    expect(page.locator("svg.speakup-qr")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("Create a password", exact=True).fill("a newcomer's own words")
    page.get_by_label("Confirm your password").fill("different words here")
    page.get_by_role("button", name="Finish setting up").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    visit.check("enrol-errors")
    assert page.locator("#totp-secret").inner_text() == secret  # the same secret, already scanned
    page.get_by_label("Create a password", exact=True).fill("a newcomer's own words")
    page.get_by_label("Confirm your password").fill("a newcomer's own words")
    code = enrolment_code(base64.b32decode(secret + "=" * (-len(secret) % 8)))
    page.get_by_label("Security code").fill(code)
    page.get_by_role("button", name="Finish setting up").click()
    expect(page.get_by_role("heading", name="Your account is set up")).to_be_visible()
    visit.check("enrol-done")
