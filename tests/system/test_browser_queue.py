"""The guardian's queue in Chromium (issue 26, point 5): what needs doing comes first, and at 1280 x 800 the first case
is on the screen without scrolling, with recent roster changes, a closed case with a reply, and every kind of tag on
the page; at 320 px nothing scrolls sideways, and no label wraps a word to a line. With and without JavaScript."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from playwright.sync_api import Browser, ViewportSize, expect
from support.browser import Visit, sign_in
from support.casework import london_today, set_case
from support.factories import gen_concern, gen_staff

VIEWPORT: ViewportSize = {"width": 1280, "height": 800}


def _cases(app: Flask) -> None:
    """A queue with every kind of row: new, overdue, due soon, a reply waiting, detriment, and a closed case with a
    reply (listed apart), enough of them that the table is longer than the screen."""
    client = app.test_client()
    today = london_today()
    raised = [gen_concern(client) for _ in range(12)]
    set_case(app, raised[0]["reference"], next_due=today - timedelta(days=3))
    set_case(app, raised[1]["reference"], next_due=today + timedelta(days=1))
    set_case(app, raised[2]["reference"], status="in_progress", detriment_reported=True)
    closed = raised[3]["reference"]
    set_case(app, closed, status="closed", next_due=None)
    for case in (raised[4], raised[3]):
        answer = client.post(
            "/api/v1/follow-up/messages",
            json={"body": "There is more."},
            headers={"Authorization": f"Bearer {case['access_code']}"},
        )
        assert answer.status_code == 201


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_the_first_case_is_on_the_first_screen_and_nothing_scrolls_sideways(
    app: Flask, live_server: str, browser: Browser, javascript: bool
):
    guardian = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    gen_staff(app, email="bea@example.org", name="Bea Guardian")  # a roster change every guardian is told of
    _cases(app)
    visit = Visit(browser, live_server, javascript=javascript, label=f"queue-{'js' if javascript else 'no-js'}")
    try:
        sign_in(visit, guardian)
        page = visit.page
        page.set_viewport_size(VIEWPORT)
        page.goto(live_server + "/guardian/")
        needs = page.locator("#needs-you-now")
        counts = ("10 cases to acknowledge", "2 replies waiting for you", "1 case overdue", "1 case with detriment")
        for words in counts:
            expect(needs.get_by_role("link", name=words)).to_be_visible()
        first_row = page.locator("table tbody tr").first
        box = first_row.bounding_box()
        assert box is not None
        print(f"first case row at {box['y']:.0f}-{box['y'] + box['height']:.0f} px of 800 ({visit.label})")
        assert box["y"] + box["height"] <= VIEWPORT["height"], f"the first case ends at {box['y'] + box['height']} px"
        needs_box = needs.bounding_box()
        assert needs_box is not None and needs_box["y"] < box["y"]  # what needs doing comes first

        # Tags say what they mean in words, each kind in its own colour, and never colour alone.
        tags = page.locator("table .nhsuk-tag").evaluate_all(
            "tags => tags.map(t => [t.textContent.trim(), [...t.classList].find(c => c.startsWith('nhsuk-tag--'))])"
        )
        colour_of = {words: colour for words, colour in tags}
        assert colour_of["Overdue"] == "nhsuk-tag--red" and colour_of["Due tomorrow"] == "nhsuk-tag--orange"
        assert colour_of["Reply waiting"] == "nhsuk-tag--purple"
        assert colour_of["Detriment reported"] == "nhsuk-tag--pink"
        kinds = {"Overdue", "Due tomorrow", "Reply waiting", "Detriment reported", "Received", "In progress"}
        assert len({colour_of[words] for words in kinds}) == len(kinds), colour_of
        expect(page.locator("table tbody tr").filter(has_text="New: not triaged yet").first).to_be_visible()

        # No label on the page wraps a word to a line (the filters' checkbox once did).
        for width in (320, 1280):
            page.set_viewport_size(ViewportSize(width=width, height=800))
            for details in page.locator("details").all():
                details.evaluate("d => d.open = true")
            narrow = page.locator("label").evaluate_all(
                "labels => labels.filter(l => l.offsetParent && l.textContent.trim().split(/\\s+/).length > 2"
                " && l.getBoundingClientRect().width < 120).map(l => l.textContent.trim())"
            )
            assert narrow == [], f"at {width} px these labels are squeezed to a word a line: {narrow}"
            page.goto(live_server + "/guardian/")
        page.set_viewport_size(VIEWPORT)
        visit.check("queue")  # axe-core, no sideways scroll at 320 px, no other host
    finally:
        visit.close()
