"""Issue 24, done as the next person at a shared ward computer would do it: Chromium with a persistent profile (the
browser keeps History, its session and its caches on disk, as a ward computer's does), JavaScript on and off.

Someone speaks up, mistyping on the way, and leaves; a guardian records a concern raised in person and signs out.
The next person presses Back and Reload through everything the browser kept, restarts the browser and looks again,
and we read every file of the profile. Nowhere is there the concern's words, the person's name or contact, the
access code or (for the reporter) the case reference; and no case opens.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import BrowserContext, Page, Playwright, expect, sync_playwright
from support.browser import continue_and_submit
from support.factories import gen_staff

WORDS = "The night sister on ward 12 altered the controlled drugs register after the audit."
NAME = "Jane Doe-Whistleblower"
CONTACT = "jane.whistle@example.org"
RECORDED_WORDS = "Agency staff on ward 3 are being asked to work without a handover."


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


def _open_profile(playwright: Playwright, profile: Path, javascript: bool) -> BrowserContext:
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is needed for the browser tests: apt-get install -y chromium"
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=executable, args=["--no-sandbox"], java_script_enabled=javascript
    )
    context.set_default_timeout(15_000)
    return context


def _walk_back_and_reload(page: Page, secrets: tuple[str, ...], steps: int = 12) -> None:
    """Back through the History, reloading each page (and accepting any 'send again?' question), as someone
    curious would: no page shows any of ``secrets``."""
    page.on("dialog", lambda dialog: dialog.accept())
    for _ in range(steps):
        _shows_none(page, secrets, "going back")
        if page.go_back() is None:
            break
        page.reload()
        _shows_none(page, secrets, "after Reload")


def _shows_none(page: Page, secrets: tuple[str, ...], when: str) -> None:
    text = page.content()
    for secret in secrets:
        assert secret not in text, f"{when}, {page.url} shows something the last person typed or was given"


def _profile_holds_none(profile: Path, secrets: tuple[str, ...], site: str) -> None:
    """No file the browser keeps (History, its session, caches, form data) holds any of ``secrets``, in UTF-8 or
    the UTF-16 Chromium uses for some of what it stores. The site's address is there (History was written, and
    read here)."""
    encoded = [form for secret in secrets for form in (secret.encode(), secret.encode("utf-16-le"))]
    address_seen = False
    for path in profile.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            address_seen = address_seen or site.encode() in data
            for secret in encoded:
                assert secret not in data, f"the profile's {path.relative_to(profile)} keeps what was typed"
    assert address_seen, "the profile holds no History of the site: nothing was tested"


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_the_next_person_after_a_reporter_finds_nothing(
    app: Flask, live_server: str, playwright: Playwright, tmp_path: Path, javascript: bool
):
    profile = tmp_path / "ward-computer"
    context = _open_profile(playwright, profile, javascript)
    page = context.new_page()
    page.goto(live_server + "/raise")
    page.get_by_label("What happened?").fill(WORDS)
    page.get_by_role("button", name="Continue").click()
    # A missing choice: the form comes back with the words, after a redirect.
    expect(page.locator("#anonymity-error")).to_be_visible()
    expect(page.get_by_label("What happened?")).to_have_value(WORDS)
    page.get_by_role("group", name="How do you want to raise this concern?").get_by_label("Confidentially").check()
    page.get_by_label("Your name").fill(NAME)
    continue_and_submit(page)
    code = page.locator("#access-code").inner_text().strip()
    reference = page.locator("#case-reference").inner_text().strip()

    # They check on it straight away, mistyping the code first (point 3), then sign out of it.
    page.goto(live_server + "/follow-up")
    mistyped = code[:-1] + ("A" if code[-1] != "A" else "B")
    page.get_by_label("Access code").fill(mistyped)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_label("Access code")).to_have_value(mistyped)  # kept to be put right
    page.get_by_label("Access code").fill(code)
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#case-status")).to_be_visible()
    page.get_by_role("button", name="Sign out of this concern").click()
    expect(page.get_by_text("You have signed out of your concern")).to_be_visible()

    secrets = (WORDS, NAME, code, mistyped, reference)
    _walk_back_and_reload(page, secrets)
    page.goto(live_server + "/follow-up/case")
    expect(page.get_by_label("Access code")).to_have_value("")  # no case opens
    context.close()

    # The browser is restarted, its session restored from disk.
    context = _open_profile(playwright, profile, javascript)
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(live_server + "/raise/sent")
    _shows_none(page, secrets, "after a restart")
    _walk_back_and_reload(page, secrets)
    context.close()
    _profile_holds_none(profile, secrets, live_server)


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_the_next_person_after_a_guardian_finds_nothing(
    app: Flask, live_server: str, playwright: Playwright, tmp_path: Path, javascript: bool
):
    guardian = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    profile = tmp_path / "office-computer"
    context = _open_profile(playwright, profile, javascript)
    page = context.new_page()
    page.goto(live_server + "/guardian/sign-in")
    page.get_by_label("Email address").fill(guardian.email)
    page.get_by_label("Password").fill(guardian.password)
    page.get_by_label("Security code").fill(guardian.security_code())
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Record a concern").click()
    # First without saying how it was raised: it comes back, kept.
    page.get_by_label("What happened?").fill(RECORDED_WORDS)
    page.get_by_role("group", name="How does the person want to raise it?").get_by_label("Openly").check()
    page.get_by_label("Their name").fill(NAME)
    page.get_by_role("button", name="Record concern").click()
    expect(page.locator("#channel-error")).to_be_visible()
    page.get_by_role("group", name="How was it raised?").get_by_label("In person").check()
    page.get_by_label("Give them an access code to follow up online").check()
    page.get_by_role("button", name="Record concern").click()
    code = page.locator("#access-code").inner_text().strip()
    page.get_by_role("button", name="Sign out").click()

    secrets = (RECORDED_WORDS, NAME, code, guardian.password)
    _walk_back_and_reload(page, secrets)
    context.close()
    context = _open_profile(playwright, profile, javascript)
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(live_server + "/guardian/record/done")
    _shows_none(page, secrets, "after a restart")
    _walk_back_and_reload(page, secrets)
    context.close()
    _profile_holds_none(profile, secrets, live_server)
