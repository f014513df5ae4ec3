"""Issue 26: "Check your answers" and the browser's Back button, as Chromium does it, JavaScript on and off.

Every page of the raise journey is ``no-store``, so Back fetches the raise form again, and Chromium sends that
request as the form was first opened: ``Sec-Fetch-Site: none`` when it was opened afresh (typed, a bookmark,
History), ``same-origin`` when it was reached by a link. A form opened afresh is answered empty and its kept answers
go (web/once.py), because the server cannot tell that Back from the next person at a shared computer opening the same
address from History; a per-tab token in the address would be in History too. So nothing is restored, and the check
page says, above the answers, to change them with its own links (Change, Back), which keep every word."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from support.browser import Visit

WORDS = "The night shift rota leaves ward 7 with one nurse, every weekend."
CHECK = "Check your answers before sending your concern"
NOTICE = "use its Change link or the Back link at the top of this page. Do not use your browser's back button"


def _fill_and_continue(page: Page) -> None:
    page.get_by_label("What happened?").fill(WORDS)
    page.get_by_role("group", name="How do you want to raise this concern?").get_by_label("Anonymously").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name=CHECK)).to_be_visible()


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_back_from_check_your_answers(app: Flask, live_server: str, browser: Browser, javascript: bool):
    visit = Visit(browser, live_server, javascript, f"{'js-on' if javascript else 'js-off'}-check-back")
    try:
        page = visit.goto("/raise")  # opened afresh, as an address typed
        _fill_and_continue(page)
        # Said before the answers, and seen without scrolling on the narrowest screen.
        notice = page.locator("#change-answers")
        expect(notice).to_contain_text(NOTICE)
        page.set_viewport_size({"width": 320, "height": 800})
        expect(notice).to_be_in_viewport()
        above, answers = notice.bounding_box(), page.locator("#answers-concern").bounding_box()
        assert above is not None and answers is not None and above["y"] < answers["y"]
        page.set_viewport_size({"width": 1280, "height": 900})
        visit.check("check-answers")

        # The browser's Back to the form opened afresh: empty, as the next person at the computer must find it,
        # and the kept answers are gone, so Forward finds nothing to check either.
        page.go_back()
        expect(page.get_by_role("heading", name="Raise a concern")).to_be_visible()
        expect(page.get_by_label("What happened?")).to_have_value("")
        assert WORDS not in page.content()
        page.go_forward()
        expect(page.get_by_label("What happened?")).to_have_value("")  # /raise/check, nothing kept: the form
        assert WORDS not in page.content()

        # The page's own Back link and a Change link keep every word; and the browser's Back to a form reached by
        # one of them (Sec-Fetch-Site: same-origin) keeps them too, which is why the notice says "may".
        page = visit.goto("/raise")
        _fill_and_continue(page)
        page.locator(".nhsuk-back-link").click()
        expect(page.get_by_label("What happened?")).to_have_value(WORDS)
        page.get_by_role("button", name="Continue").click()
        page.get_by_role("link", name="Change what happened").click()
        expect(page.get_by_label("What happened?")).to_have_value(WORDS)
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("heading", name=CHECK)).to_be_visible()
        page.go_back()
        expect(page.get_by_label("What happened?")).to_have_value(WORDS)
    finally:
        visit.close()
