"""A person in Debian's Chromium: one browser context per person, and the checks every page gets (axe-core,
screenshots at 320 and 1280 px, no sideways scroll, no other host)."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, Request, expect

from support.factories import Staff

ROOT = Path(__file__).resolve().parents[2]
AXE_SOURCE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "screenshots"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
WIDTHS = (320, 1280)


class Visit:
    """One browser context (a person on their own computer) and the checks every page gets."""

    def __init__(self, browser: Browser, base_url: str, javascript: bool, label: str):
        self.base_url = base_url
        self.label = label
        self.javascript = javascript
        self.browser = browser
        self.context = browser.new_context(java_script_enabled=javascript, viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.foreign_requests: list[str] = []
        self.context.on("request", self._watch)
        self.pages_checked = 0

    def _watch(self, request: Request) -> None:
        if not request.url.startswith(self.base_url) and not request.url.startswith(("data:", "about:")):
            self.foreign_requests.append(request.url)

    def goto(self, path: str) -> Page:
        self.page.goto(self.base_url + path)
        return self.page

    def check(self, name: str) -> None:
        """axe-core, screenshots at both widths, no horizontal scroll at 320 px, no other host."""
        page = self.page
        violations = run_axe(page) if self.javascript else self._axe_on_mirror()
        if violations:
            for v in violations:
                print(f"[{self.label}] {name}: {v['impact']} {v['id']}: {v['help']} -> {v['targets']}")
        assert violations == [], f"{name}: accessibility violations (printed above)"
        SCREENSHOTS.mkdir(exist_ok=True)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=str(SCREENSHOTS / f"{self.label}-{name}-{width}.png"), full_page=True)
            if width == 320:
                overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, f"{name} scrolls sideways at 320 px by {overflow}px"
        page.set_viewport_size({"width": 1280, "height": 900})
        assert self.foreign_requests == [], f"requests to another host: {self.foreign_requests}"
        self.pages_checked += 1

    def _axe_on_mirror(self) -> list[dict]:
        """axe needs timers, which a page without JavaScript does not run. So the exact HTML this
        page received is shown in a second tab whose own scripts are all blocked (the same page as
        with JavaScript off), and axe runs there."""
        html, url = self.page.content(), self.page.url
        mirror_context = self.browser.new_context(viewport={"width": 1280, "height": 900})
        try:
            mirror = mirror_context.new_page()
            mirror.route(re.compile(r".*\.m?js(\?.*)?$"), lambda route: route.abort())
            mirror.route(url, lambda route: route.fulfill(body=html, content_type="text/html; charset=utf-8"))
            mirror.goto(url)
            return run_axe(mirror)
        finally:
            mirror_context.close()

    def close(self) -> None:
        self.context.close()


def continue_and_submit(page: Page, double_click: bool = False, visit: Visit | None = None) -> None:
    """The raise form's "Continue", then "Submit concern" on "Check your answers" (checked with ``visit``'s checks
    when given); ``double_click`` double-clicks both buttons."""
    button = page.get_by_role("button", name="Continue")
    button.dblclick() if double_click else button.click()
    expect(page.get_by_role("heading", name="Check your answers before sending your concern")).to_be_visible()
    if visit is not None:
        visit.check("check-answers")
    submit = page.get_by_role("button", name="Submit concern")
    submit.dblclick() if double_click else submit.click()


def run_axe(page: Page) -> list[dict]:
    """Serious and critical WCAG 2.2 A/AA violations on the current page.

    axe is evaluated through the DevTools protocol, which the page's CSP does not govern, so the CSP
    stays exactly as served.
    """
    page.evaluate(AXE_SOURCE.read_text())
    result = page.evaluate(
        """async (tags) => {
            const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                            targets: v.nodes.map(n => n.target.join(' '))}));
        }""",
        WCAG_TAGS,
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def sign_in(visit: Visit, staff: Staff, landing: str = "Cases") -> None:
    page = visit.goto("/guardian/sign-in")
    visit.check("sign-in")
    page.get_by_label("Email address").fill(staff.email)
    page.get_by_label("Password").fill(staff.password)
    page.get_by_label("Security code").fill(staff.security_code())
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=landing, exact=True)).to_be_visible()
