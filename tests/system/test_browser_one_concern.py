"""One form, one concern, in Chromium with JavaScript on and off: a double click on "Submit
concern", a reload of the confirmation and Back from it raise nothing new and never show a browser error; the code
shown is the one that opens the concern, in the page's text colour, until the person says they saved it."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect
from sqlalchemy import func, select
from support.browser import Visit, continue_and_submit
from support.factories import reference_opened_by

from speakup.platform.models import Case, db

ERROR_RED = "rgb(213, 40, 27)"  # the design system's error colour


def _references(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Case.reference)))


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_double_click_reload_and_back_raise_one_concern(app: Flask, live_server: str, browser: Browser, javascript):
    mode = "js-on" if javascript else "js-off"
    visit = Visit(browser, live_server, javascript, f"{mode}-one-concern")
    try:
        page = visit.goto("/raise")
        page.get_by_label("What happened?").fill("Two agency nurses were left without a handover on ward 3.")
        page.get_by_role("group", name="How do you want to raise this concern?").get_by_label("Anonymously").check()
        continue_and_submit(page, double_click=True)
        code = page.locator("#access-code").inner_text()
        reference = page.locator("#case-reference").inner_text()
        assert _references(app) == [reference] and reference_opened_by(app, code) == reference
        colour = page.locator("#access-code").evaluate("e => getComputedStyle(e).color")
        assert colour != ERROR_RED
        visit.check("confirmation")

        page.reload()
        expect(page.locator("#access-code")).to_have_text(code)
        page.go_back()
        expect(page.get_by_label("What happened?")).to_be_visible()  # the form again, not a cache-miss error
        page.go_forward()
        expect(page.locator("#access-code")).to_have_text(code)
        assert _references(app) == [reference]

        page.get_by_role("button", name="I have saved my access code").click()
        page.get_by_role("button", name="Yes, hide my code").click()  # it asks first (test_browser_access_code.py)
        expect(page.get_by_role("heading", name="Keep your access code safe")).to_be_visible()
        assert page.locator("#access-code").count() == 0
        visit.check("code-saved")
        page.go_back()
        assert page.locator("#access-code").count() == 0
        assert _references(app) == [reference]
    finally:
        visit.close()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == 1
