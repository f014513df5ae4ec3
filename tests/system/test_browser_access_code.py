"""Issue 26, point 2, in Chromium with JavaScript on and off: the access code is hard to lose. Copy puts the code on
the clipboard; printing the confirmation prints only the slip (the follow-up address and the code, nothing about the
concern); and hiding the code asks first, by forms alone when the script does not run."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from support.browser import Visit, continue_and_submit
from support.factories import reference_opened_by

WORDS = "The oxygen cylinders on ward 5 are stored next to the radiator."


def _raise(visit: Visit) -> tuple[Page, str]:
    page = visit.goto("/raise")
    page.get_by_label("What happened?").fill(WORDS)
    page.get_by_role("group", name="How do you want to raise this concern?").get_by_label("Anonymously").check()
    continue_and_submit(page)
    return page, page.locator("#access-code").inner_text().strip()


def test_copy_puts_the_code_on_the_clipboard(app: Flask, live_server: str, browser: Browser):
    visit = Visit(browser, live_server, True, "js-on-copy-code")
    try:
        visit.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
        page, code = _raise(visit)
        visit.check("confirmation-with-copy")
        page.get_by_role("button", name="Copy").click()
        expect(page.get_by_role("status").filter(has_text="Copied")).to_be_visible()
        assert page.evaluate("navigator.clipboard.readText()") == code
        assert reference_opened_by(app, page.evaluate("navigator.clipboard.readText()"))
        expect(page.get_by_role("button", name="Print")).to_be_visible()
    finally:
        visit.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_printing_shows_only_the_slip(app: Flask, live_server: str, browser: Browser, javascript: bool):
    visit = Visit(browser, live_server, javascript, f"{'js-on' if javascript else 'js-off'}-print-code")
    try:
        page, code = _raise(visit)
        print_button = page.get_by_role("button", name="Print")
        if javascript:
            expect(print_button).to_be_visible()
        else:
            expect(print_button).to_be_hidden()  # nothing that cannot work: the browser's own Print is used
        reference = page.locator("#case-reference")
        expect(reference).to_be_visible()
        reference_text = reference.inner_text().strip()
        page.emulate_media(media="print")
        expect(page.locator("#access-code")).to_have_text(code)
        expect(page.locator("#access-code")).to_be_visible()
        expect(
            page.locator("#access-code-slip").get_by_text(app.config["PUBLIC_BASE_URL"].rstrip("/") + "/follow-up")
        ).to_be_visible()
        hidden = [
            reference,
            page.get_by_role("heading", name="Your concern has been sent"),
            page.get_by_role("heading", name="What happens next"),
            page.get_by_text("Write it on paper or keep it on your own phone"),
            page.get_by_role("button", name="I have saved my access code"),
            print_button,
            page.get_by_role("button", name="Copy"),
            page.get_by_role("banner"),
            page.get_by_role("contentinfo"),
        ]
        for element in hidden:
            expect(element).to_be_hidden()
        printed = page.evaluate(
            """() => [...document.body.querySelectorAll('*')]
                .filter(e => getComputedStyle(e).visibility === 'visible' && e.childElementCount === 0
                             && e.textContent.trim())
                .map(e => e.textContent.trim())"""
        )
        assert WORDS not in " ".join(printed) and reference_text not in " ".join(printed), printed
        assert code in printed, printed
        page.emulate_media(media="screen")
        expect(reference).to_be_visible()
    finally:
        visit.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_hiding_the_code_asks_first(app: Flask, live_server: str, browser: Browser, javascript: bool):
    visit = Visit(browser, live_server, javascript, f"{'js-on' if javascript else 'js-off'}-hide-code")
    try:
        page, code = _raise(visit)
        page.get_by_role("button", name="I have saved my access code").click()
        expect(page.get_by_role("heading", name="Have you got your access code somewhere safe?")).to_be_visible()
        visit.check("hide-code")
        page.get_by_role("link", name="No, show my access code again").click()
        expect(page.locator("#access-code")).to_have_text(code)  # only asked: still shown
        page.get_by_role("button", name="I have saved my access code").click()
        page.get_by_role("button", name="Yes, hide my code").click()
        expect(page.get_by_role("heading", name="Keep your access code safe")).to_be_visible()
        page.go_back()
        assert page.locator("#access-code").count() == 0 and code not in page.content()
        page.goto(live_server + "/raise/sent")
        assert page.locator("#access-code").count() == 0 and code not in page.content()
    finally:
        visit.close()
