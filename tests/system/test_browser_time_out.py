"""Issue 26, point 1, in Chromium: a signed-in page says how long it stays open, warns before its session ends in
an accessible dialog (JavaScript on), keeps the session when asked, and, left alone, ends itself on the signed-out
page; a guardian's half-written message is shown, not sent, after signing in again.

The page's timers run on Playwright's clock and the server's on the service's (the live server runs in this
process), both moved on together, so a 30-minute time-out takes seconds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from support.browser import Visit, run_axe, sign_in
from support.factories import gen_concern, gen_staff
from support.html import case_address

from speakup.platform import clock

REPLY = "The rota was changed again last night."
WORDS = "I have spoken to the ward manager and will write again on Friday."


def _time_passes(page: Page, minutes: float) -> None:
    clock.advance(timedelta(minutes=minutes))
    page.clock.fast_forward(int(minutes * 60 * 1000))


@pytest.mark.parametrize("app_overrides", [{"STAFF_IDLE_MINUTES": 3, "TIMEOUT_WARNING_MINUTES": 2}], indirect=True)
def test_a_guardian_is_warned_can_stay_and_left_alone_is_signed_out_with_their_words_kept(
    app: Flask, live_server: str, browser: Browser
):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    case_url = case_address(app, gen_concern(app.test_client())["reference"])
    visit = Visit(browser, live_server, True, "js-on-time-out")
    page = visit.page
    page.clock.install()
    sign_in(visit, gita)
    visit.goto(case_url)
    expect(page.locator("#time-out-notice")).to_contain_text("signs you out after 3 minutes without activity")
    message = page.get_by_label("Message to the person who raised this", exact=True)
    message.fill(WORDS)
    dialog = page.get_by_role("dialog", name="You are about to be signed out")
    expect(dialog).to_be_hidden()

    _time_passes(page, 1.25)  # 1 minute 45 seconds left: the warning
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("we will sign you out in 2 minutes")
    stay = dialog.get_by_role("button", name="Stay signed in")
    expect(stay).to_be_focused()
    expect(dialog.get_by_role("button", name="Sign out")).to_be_visible()
    violations = run_axe(page)
    assert violations == [], violations
    visit.check("case-with-time-out-warning")

    stay.click()
    expect(dialog).to_be_hidden()
    expect(message).to_be_focused()  # back where they were
    _time_passes(page, 2)  # 2 minutes after "Stay", 3 minutes 15 seconds after the page: still signed in
    expect(page).to_have_url(live_server + case_url)
    expect(dialog).to_be_visible()  # warned again, a minute before the end
    page.keyboard.press("Escape")  # Escape is "Stay signed in" too
    expect(dialog).to_be_hidden()

    _time_passes(page, 3.5)  # left alone: the page goes by itself
    expect(page.locator("#timed-out")).to_be_visible()
    expect(page).to_have_url(live_server + "/guardian/sign-in")
    assert WORDS not in page.content()

    page.get_by_label("Email address").fill(gita.email)
    page.get_by_label("Password").fill(gita.password)
    page.get_by_label("Security code").fill(gita.security_code())
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_server + case_url)
    # Shown as not sent, to copy, never put back in the form (review finding F3): the words may not be hers.
    expect(page.get_by_label("Message to the person who raised this", exact=True)).to_have_value("")
    unsent = page.get_by_label("Message (not sent)")
    expect(unsent).to_have_value(WORDS)
    expect(unsent).not_to_be_editable()
    expect(page.locator("#unsent-at-time-out")).to_contain_text("were not sent")
    assert run_axe(page) == []
    visit.close()


@pytest.mark.parametrize("app_overrides", [{"STAFF_ABSOLUTE_HOURS": 1}], indirect=True)
def test_at_the_absolute_limit_the_dialog_offers_no_stay(app: Flask, live_server: str, browser: Browser):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    visit = Visit(browser, live_server, True, "js-on-absolute-limit")
    page = visit.page
    page.clock.install()
    sign_in(visit, gita)
    for _ in range(2):  # kept going by activity, as a working guardian's is
        _time_passes(page, 28)
        visit.goto("/guardian/")
    _time_passes(page, 2.5)  # an hour after signing in, less a minute and a half
    dialog = page.get_by_role("dialog", name="You are about to be signed out")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("you cannot stay signed in")
    expect(dialog.get_by_role("button", name="Stay signed in")).to_be_hidden()
    expect(dialog.get_by_role("button", name="Sign out")).to_be_focused()
    assert run_axe(page) == []
    _time_passes(page, 2)
    expect(page.locator("#timed-out")).to_be_visible()
    visit.close()


def test_the_reporters_page_warns_and_ends_itself(app: Flask, live_server: str, browser: Browser):
    code = gen_concern(app.test_client())["access_code"]
    visit = Visit(browser, live_server, True, "js-on-reporter-time-out")
    page = visit.page
    page.clock.install()
    visit.goto("/follow-up")
    page.get_by_label("Access code").fill(code)
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#case-status")).to_be_visible()
    expect(page.locator("#time-out-notice")).to_contain_text("signs you out after 15 minutes without activity")
    expect(page.locator("#time-out-notice")).to_contain_text("A reply you are writing is not saved until you send it")
    reply = page.locator("textarea#body")
    reply.fill(REPLY)
    _time_passes(page, 13.5)
    dialog = page.get_by_role("dialog", name="You are about to be signed out")
    expect(dialog).to_be_visible()
    # A reporter has no key to seal their words to: they are told, before the end, that nothing typed is kept.
    expect(dialog).to_contain_text("What you have typed and not sent is not saved: copy it now")
    assert run_axe(page) == []
    dialog.get_by_role("button", name="Stay signed in").click()
    expect(dialog).to_be_hidden()
    _time_passes(page, 10)  # 23.5 minutes after the page opened: still open
    expect(page.locator("#case-status")).to_be_visible()
    _time_passes(page, 6)
    expect(page.get_by_role("heading", name="You have been signed out of your concern")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Anything you had typed and not sent was not kept")
    assert code not in page.content() and REPLY not in page.content()
    visit.close()


@pytest.mark.parametrize("app_overrides", [{"STAFF_IDLE_MINUTES": 3}], indirect=True)
def test_without_javascript_the_limit_is_stated(app: Flask, live_server: str, browser: Browser):
    gita = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    code = gen_concern(app.test_client())["access_code"]
    visit = Visit(browser, live_server, False, "js-off-time-out")
    page = visit.page
    sign_in(visit, gita)
    expect(page.locator("#time-out-notice")).to_have_text(
        "For your safety, this page signs you out after 3 minutes without activity, and 8 hours after you signed in."
    )
    expect(page.get_by_role("dialog")).to_have_count(0)
    visit.check("queue-time-out-notice")
    reporter = Visit(browser, live_server, False, "js-off-reporter-time-out")
    reporter.goto("/follow-up")
    reporter.page.get_by_label("Access code").fill(code)
    reporter.page.get_by_role("button", name="Continue").click()
    expect(reporter.page.locator("#time-out-notice")).to_have_text(
        "For your safety, this page signs you out after 15 minutes without activity. A reply you are writing is not"
        " saved until you send it, so copy it before then if you need longer."
    )
    visit.close()
    reporter.close()
