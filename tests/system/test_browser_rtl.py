"""Urdu, right to left, in Chromium (issue 28, point 4: "the reporter pages render right to left with no sideways
scroll at 320 px"). Every message of reporter.pot is written in Urdu's letters (support/pseudo.py), so each page is as
long and as unbreakable as a translation; the journey goes through every reporter's page, and each, at 320 px wide,
says dir="rtl" and scrolls no wider than the screen."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from support.catalogues import directories_with
from support.pseudo import ROOT, in_arabic_script, install_pseudo_catalogue

pytestmark = pytest.mark.fresh_app

WORDS = "The sharps bin on ward 9 has been overflowing since Monday and nobody collects it"
ACCESS_CODE = re.compile(r"[0-9A-Z]{4}(?:-[0-9A-Z]{4})+")


@pytest.fixture
def app_overrides(tmp_path: Path) -> dict[str, object]:
    folder = install_pseudo_catalogue(
        tmp_path / "translations", ROOT / "speakup/translations/reporter.pot", "ur", in_arabic_script
    )
    return {"LANGUAGES": ["ur", "en"], "DEFAULT_LANGUAGE": "ur", "SUBMIT_RATE_LIMIT": "100 per minute",
            "BABEL_TRANSLATION_DIRECTORIES": directories_with(folder)}  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium without axe-core: this test checks the layout only (test_browser.py checks accessibility)."""
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is needed for the browser tests: apt-get install -y chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


def _fits(page: Page, name: str, seen: list[str]) -> None:
    assert page.evaluate("document.documentElement.dir") == "rtl", f"{name} is not right to left"
    assert page.evaluate("document.documentElement.lang") == "ur", name
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 320, f"{name} scrolls sideways at 320 px: {width}px wide"
    seen.append(name)


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_the_reporters_pages_in_urdu_fit_320_px(live_server: str, browser: Browser, javascript: bool) -> None:
    context = browser.new_context(java_script_enabled=javascript, viewport={"width": 320, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    seen: list[str] = []
    try:
        for path in ("/", "/other-ways", "/accessibility", "/privacy", "/follow-up", "/no-such-page", "/raise"):
            page.goto(live_server + path)
            _fits(page, path, seen)
        # The raise form sent with a mistake (nothing written), then to "Check your answers" and the code.
        page.locator("#raise-form button[type=submit]").click()
        _fits(page, "the raise form with mistakes", seen)
        page.locator("textarea[name=what_happened]").fill(WORDS)
        page.locator("input[name=anonymity][value=anonymous]").check()
        page.locator("#raise-form button[type=submit]").click()
        page.wait_for_url(re.compile(r"/raise/check$"))
        _fits(page, "check your answers", seen)
        page.locator("form[action$='/raise/check'] button[type=submit], main form button[type=submit]").first.click()
        page.wait_for_url(re.compile(r"/raise/sent$"))
        _fits(page, "the confirmation", seen)
        code = page.locator("#access-code").inner_text().strip()
        assert ACCESS_CODE.fullmatch(code), f"no access code shown: {code!r}"
        page.goto(live_server + "/raise/sent/hide")
        _fits(page, "hide the code", seen)
        page.locator("main form button[type=submit]").first.click()
        _fits(page, "the code hidden", seen)
        # Following up: a wrong code, then the case, then signed out.
        page.goto(live_server + "/follow-up")
        page.locator("input[name=access_code]").fill("0000-0000-0000-0000")
        page.locator("main form button[type=submit]").first.click()
        _fits(page, "follow-up with a wrong code", seen)
        page.locator("input[name=access_code]").fill(code)
        page.locator("main form button[type=submit]").first.click()
        page.wait_for_url(re.compile(r"/follow-up/case$"))
        _fits(page, "the case page", seen)
        page.locator("#sign-out-form button[type=submit]").click()
        page.wait_for_url(re.compile(r"/follow-up/signed-out$"))
        _fits(page, "signed out", seen)
    finally:
        context.close()
    assert len(seen) == 15, seen
