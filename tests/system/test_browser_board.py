"""The board report in Chromium (issue 26, point 8), JavaScript on and off: at 320 and 1280 px every word of every
chart (its title, key, series, values, quarters and scale) is drawn at 12px or more, as the browser computes it, and
no chart is a picture that could scale its text down; a hidden count is a hatched bar; the contents list's links
land on their sections; the usual checks (axe-core, no sideways scroll, no other host) pass.

At 320 px the whole page is measured: 12,987 px before the tables a chart already draws were folded under it (with
JavaScript off), 9,100 px after. HEIGHT_320 is the bound, so a change that makes a phone reader scroll much further
fails here."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect
from support.browser import WIDTHS, Visit, sign_in
from support.factories import gen_quarter, gen_staff

# Every element of a chart that holds text of its own, SVG text included.
SIZES = """() => [...document.querySelectorAll('.speakup-chart *')]
    .filter(e => [...e.childNodes].some(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim()))
    .map(e => ({text: e.textContent.trim(), size: parseFloat(getComputedStyle(e).fontSize),
                height: e.getBoundingClientRect().height}))"""

HEIGHT_320 = 9_400  # px, with JavaScript on or off (measured 8,981 and 9,100)
HEIGHT = "() => document.documentElement.scrollHeight"
TRACKS = """() => [...document.querySelectorAll('#chart-themes .speakup-chart__track')]
    .filter(e => e.getClientRects().length > 0).map(e => Math.round(e.getBoundingClientRect().width))"""

TICKS = """() => [...document.querySelectorAll('.speakup-chart__tick')]
    .filter(e => e.getClientRects().length > 0).map(e => e.getBoundingClientRect().height)"""


@pytest.fixture
def app_overrides() -> dict[str, object]:
    return {"SUBMIT_RATE_LIMIT": "100 per minute"}


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_the_board_reads_at_every_width(app: Flask, live_server: str, browser: Browser, javascript: bool):
    gen_quarter(app, app.test_client(), 7, anonymous=2)
    guardian = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    visit = Visit(browser, live_server, javascript, f"{'js-on' if javascript else 'js-off'}-board")
    try:
        sign_in(visit, guardian)
        page = visit.goto("/guardian/board")
        expect(page.locator("#headline-figures")).to_contain_text("Concerns raised")
        assert page.locator(".speakup-chart svg[viewBox]").count() == 0  # nothing scales the text with the picture
        hidden = page.locator("#chart-anonymous .speakup-chart__row--hidden").last
        expect(hidden).to_contain_text("Raised anonymously")
        expect(hidden.locator(".speakup-chart__value")).to_have_text("<5 (hidden)")
        bar = hidden.locator("rect.speakup-chart__bar--hidden").bounding_box()
        assert bar is not None and bar["width"] > 8  # drawn, not left out
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            sizes = page.evaluate(SIZES)
            assert len(sizes) > 100, "the charts' text was not found"
            small = [s for s in sizes if s["size"] < 12]
            assert small == [], f"chart text under 12px at {width} px: {small[:5]}"
            # The scale's numbers are SVG text: as drawn, each is at least 12px high (a scaled picture's would not be).
            ticks = page.evaluate(TICKS)
            assert ticks and min(ticks) >= 12, f"scale numbers drawn {min(ticks)}px high at {width} px"
        page.set_viewport_size({"width": 320, "height": 900})
        height = page.evaluate(HEIGHT)
        assert height < HEIGHT_320, f"the board is {height}px long at 320 px"
        # On a narrow screen a bar's value is on its name's line, and the scale is as wide as the bars it measures.
        tracks = page.evaluate(TRACKS)
        assert len(tracks) > 16 and len(set(tracks)) == 1, f"tracks of different widths at 320 px: {set(tracks)}"
        # The figures a chart draws are a summary away, folded but complete with JavaScript on or off.
        folded = page.locator("#timeliness ~ details.speakup-chart-figures").first
        expect(folded.locator("table")).not_to_be_visible()
        folded.locator("summary").click()
        expect(folded.get_by_role("table")).to_contain_text("To acknowledge")
        page.set_viewport_size({"width": 1280, "height": 900})
        page.get_by_role("navigation", name="Sections of the report").get_by_role(
            "link", name="Would people speak up again?"
        ).click()
        assert page.url.endswith("#speak-up-again")
        expect(page.locator("#speak-up-again")).to_be_in_viewport()
        visit.check("board")
    finally:
        visit.close()
