""" "Check your answers" and "Exit this page" in Chromium, with JavaScript on and off: the journey through the check
to the code; Shift pressed three times (or the button) leaves for EXIT_PAGE_URL (a page served here, in the browser),
and Back does not bring back the page or the words typed; without JavaScript the button is a plain link there."""

from __future__ import annotations

import time

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select
from support.browser import Visit
from support.factories import reference_opened_by

from speakup.platform.models import FormPost, db

EXIT_URL = "https://weather.example.test/today"
WORDS = "The controlled drugs book on ward 4 has been signed by the same nurse twice."
NAME = "Tomasz Brennan-Achebe"


@pytest.fixture
def app_overrides() -> dict[str, object]:
    return {"EXIT_PAGE_URL": EXIT_URL, "SUBMIT_RATE_LIMIT": "100 per minute"}


def _visit(browser: Browser, live_server: str, javascript: bool, label: str) -> Visit:
    visit = Visit(browser, live_server, javascript, label)
    # The exit page, served in the browser itself: no request leaves the machine.
    visit.context.route(
        EXIT_URL, lambda route: route.fulfill(body="<!DOCTYPE html><title>Weather</title><h1>Weather</h1>")
    )
    return visit


def _kept(app: Flask) -> int:
    with app.app_context():
        kept = db.session.scalar(select(func.count()).select_from(FormPost).where(FormPost.kept_ct.is_not(None)))
        db.session.remove()
        return int(kept or 0)


def _until_nothing_is_kept(app: Flask) -> None:
    for _ in range(40):
        if _kept(app) == 0:
            return
        time.sleep(0.05)
    raise AssertionError("the words kept for the form were not forgotten on leaving")


def _to_check_answers(visit: Visit) -> Page:
    page = visit.goto("/raise")
    page.get_by_label("What happened?").fill(WORDS)
    page.get_by_role("group", name="How do you want to raise this concern?").get_by_label("Confidentially").check()
    page.get_by_label("Your name").fill(NAME)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Check your answers before sending your concern")).to_be_visible()
    return page


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_the_journey_through_check_your_answers(app: Flask, live_server: str, browser: Browser, javascript: bool):
    mode = "js-on" if javascript else "js-off"
    visit = _visit(browser, live_server, javascript, f"{mode}-check-answers")
    try:
        page = _to_check_answers(visit)
        expect(page.locator("#answers-concern")).to_contain_text(WORDS)
        expect(page.locator("#answers-identity")).to_contain_text(NAME)
        expect(page.locator("#anonymity-meaning")).to_contain_text("you cannot make it anonymous later")
        expect(page.get_by_role("button", name="Exit this page")).to_have_attribute("href", EXIT_URL)
        visit.check("check-answers")
        # Change: the form with every answer kept; change one, Continue, and it shows.
        page.get_by_role("link", name="Change your name").click()
        expect(page.get_by_label("What happened?")).to_have_value(WORDS)
        expect(page.get_by_label("Your name")).to_have_value(NAME)
        page.get_by_label("Your name").fill("T. Brennan")
        page.get_by_role("button", name="Continue").click()
        expect(page.locator("#answers-identity")).to_contain_text("T. Brennan")
        page.get_by_role("button", name="Submit concern").click()
        code = page.locator("#access-code").inner_text().strip()
        reference = page.locator("#case-reference").inner_text().strip()
        assert reference_opened_by(app, code) == reference
        visit.check("confirmation-after-check")
        page.go_back()  # to "Check your answers": its answers are gone, so the form, empty
        expect(page.get_by_label("What happened?")).to_have_value("")
    finally:
        visit.close()


def test_shift_three_times_leaves_and_back_finds_no_words(app: Flask, live_server: str, browser: Browser):
    visit = _visit(browser, live_server, True, "js-on-exit-shift")
    try:
        page = _to_check_answers(visit)
        assert _kept(app) == 1
        page.locator("h1").click()  # the page has focus; no field does
        entries = page.evaluate("history.length")
        for _ in range(3):
            page.keyboard.press("Shift")
        page.wait_for_url(EXIT_URL)
        assert page.evaluate("history.length") == entries  # replaced, not added to
        expect(page.get_by_role("heading", name="Weather")).to_be_visible()
        _until_nothing_is_kept(app)  # the background /exit (keepalive) forgot the words at once
        page.go_back()  # the check page's entry was replaced: Back is the form, and the words are forgotten
        assert "/raise/check" not in page.url
        expect(page.get_by_label("What happened?")).to_have_value("")
        assert WORDS not in page.content() and NAME not in page.content()
    finally:
        visit.close()


def test_shift_pressed_between_other_keys_does_not_leave(app: Flask, live_server: str, browser: Browser):
    """Typing capitals presses Shift too: only three presses with nothing between them leave."""
    visit = _visit(browser, live_server, True, "js-on-exit-typing")
    try:
        page = visit.goto("/raise")
        page.get_by_label("What happened?").click()
        for letter in "ABC":
            page.keyboard.press(f"Shift+{letter}")
        page.wait_for_timeout(300)
        assert page.url.endswith("/raise")
        expect(page.get_by_label("What happened?")).to_have_value("ABC")
    finally:
        visit.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_the_exit_button_leaves_for_the_setting(app: Flask, live_server: str, browser: Browser, javascript: bool):
    visit = _visit(browser, live_server, javascript, f"{'js-on' if javascript else 'js-off'}-exit-button")
    try:
        page = _to_check_answers(visit)
        entries = page.evaluate("history.length") if javascript else 0
        page.get_by_role("button", name="Exit this page").click()
        page.wait_for_url(EXIT_URL)
        if javascript:  # the entry was replaced, the kept words forgotten
            assert page.evaluate("history.length") == entries
            _until_nothing_is_kept(app)
            page.go_back()
            assert "/raise/check" not in page.url
            expect(page.get_by_label("What happened?")).to_have_value("")
    finally:
        visit.close()
