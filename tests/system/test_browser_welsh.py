"""The whole journey in Welsh in Debian's Chromium (issue 28), with JavaScript on and off: a concern raised, its
access code, the follow-up and its status, a guardian signing in, reading and replying, the case closed and the
closing questions answered. Every page says ``<html lang="cy">`` and passes the checks every browser test's pages
get (support/browser.py: axe-core, no sideways scroll, no other host). And a person who starts in English and
chooses Cymraeg half-way through the raise form, without JavaScript, keeps what they typed; so does a guardian
half-way through their case page, with JavaScript or without.

Elements are found by id, name and role, never by their English words: the words asserted are the Welsh
catalogue's own (its translation, or the English where it has none yet, as gettext falls back). The catalogue is the
real one, speakup/translations/cy/LC_MESSAGES/messages.po, compiled here into a folder of the test's own (so the
journey runs on the catalogue as it is now, whatever was compiled in place before); without it the test fails."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from support.browser import ROOT, Visit
from support.catalogues import directories_with
from support.factories import Staff, gen_staff

from speakup.crypto import access_codes

WELSH_PO = ROOT / "speakup" / "translations" / "cy" / "LC_MESSAGES" / "messages.po"
HOME_HEADING = "Speak up about something that worries you"
WHAT_HAPPENED = "Mae'r shifft nos ar ward 7 wedi'i gadael gydag un nyrs."
WHERE = "Ward 7, adain y gogledd"
GUARDIAN_REPLY = "Diolch. Pryd yn union?"
REPORTER_REPLY = "Bob nos yr wythnos diwethaf."
CLOSING_MESSAGE = "Mae mwy o staff ar y shifft nos bellach."
NOTE = "Siaradais â rheolwr y ward ddydd Llun."


class Welsh:
    """The real Welsh catalogue, compiled into ``folder``; called with an English message, the words a Welsh page
    shows for it."""

    def __init__(self, folder: Path):
        if not WELSH_PO.is_file():
            pytest.fail(
                f"the Welsh journey needs the Welsh catalogue, {WELSH_PO.relative_to(ROOT)}, which is missing: "
                "the Welsh pages cannot be tested without it"
            )
        with WELSH_PO.open("rb") as file:
            self.catalog: Catalog = read_po(file, locale="cy")
        where = folder / "cy" / "LC_MESSAGES"
        where.mkdir(parents=True)
        with (where / "messages.mo").open("wb") as out:
            write_mo(out, self.catalog)  # as `pybabel compile` writes it: fuzzy translations left out
        self.folder = folder

    def __call__(self, english: str) -> str:
        message = self.catalog.get(english)
        if message is None or not message.string or message.fuzzy:
            return english
        return str(message.string)


@pytest.fixture(scope="module")
def welsh(tmp_path_factory: pytest.TempPathFactory) -> Welsh:
    catalogue = Welsh(tmp_path_factory.mktemp("welsh-catalogue"))
    assert catalogue(HOME_HEADING) != HOME_HEADING, f"{WELSH_PO.relative_to(ROOT)} does not translate the home page"
    return catalogue


@pytest.fixture
def app_overrides(request: pytest.FixtureRequest, welsh: Welsh) -> dict[str, object]:
    """Welsh first (SPEAKUP_DEFAULT_LANGUAGE=cy), or English first for a test parametrised with "en"."""
    return {
        "LANGUAGES": ["en", "cy"],
        "DEFAULT_LANGUAGE": getattr(request, "param", "cy"),
        "BABEL_TRANSLATION_DIRECTORIES": directories_with(welsh.folder),
        # A person's pace, not a robot's (as test_browser.py).
        "SUBMIT_RATE_LIMIT": "100 per minute",
        "ACCESS_CODE_RATE_LIMIT": "100 per minute",
    }


def _check(visit: Visit, name: str) -> None:
    """Every page of the journey: in Welsh, said so to the browser and to a screen reader, and clean for axe-core."""
    expect(visit.page.locator("html")).to_have_attribute("lang", "cy")
    # The chooser offers the other language, named in itself.
    expect(visit.page.locator("[hreflang=en], button[name=language][value=en]")).to_have_count(1)
    visit.check(name)


def _submit(page: Page, form: str) -> None:
    page.locator(f"{form} button[type=submit]").click()


def _sign_in(visit: Visit, staff: Staff) -> Page:
    page = visit.goto("/guardian/sign-in")
    _check(visit, "sign-in")
    page.locator("#email").fill(staff.email)
    page.locator("#password").fill(staff.password)
    page.locator("#security_code").fill(staff.security_code())
    _submit(page, "main form")
    expect(page).to_have_url(visit.base_url + "/guardian/")
    return page


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_the_whole_journey_in_welsh(
    app: Flask, live_server: str, browser: Browser, welsh: Welsh, javascript: bool
) -> None:
    mode = "js-on" if javascript else "js-off"
    guardian = gen_staff(app, email="gwen@example.org", name="Gwen Gwarcheidwad")
    reporter = Visit(browser, live_server, javascript, f"cy-{mode}-reporter")
    staff = Visit(browser, live_server, javascript, f"cy-{mode}-guardian")
    try:
        # The reporter raises a concern, on pages in Welsh from the first.
        page = reporter.goto("/")
        expect(page.locator("h1")).to_have_text(welsh(HOME_HEADING))
        _check(reporter, "home")
        page.locator("#maincontent a[href='/raise']").click()
        expect(page.locator("#what_happened")).to_be_visible()
        _check(reporter, "raise")
        page.locator("#what_happened").fill(WHAT_HAPPENED)
        page.locator("#where").fill(WHERE)
        page.locator("input[name=anonymity][value=anonymous]").check()
        _submit(page, "#raise-form")
        expect(page.locator("#answers-concern")).to_contain_text(WHAT_HAPPENED)
        _check(reporter, "check-answers")
        _submit(page, "#maincontent form")
        code = page.locator("#access-code").inner_text()
        reference = page.locator("#case-reference").inner_text()
        assert access_codes.normalise_access_code(code)
        _check(reporter, "confirmation")

        # The guardian signs in, in Welsh, reads the concern, acknowledges it and writes.
        gpage = _sign_in(staff, guardian)
        _check(staff, "queue")
        gpage.get_by_role("link", name=reference).click()
        expect(gpage.locator("#concern-text")).to_have_text(WHAT_HAPPENED)
        _check(staff, "case")
        gpage.locator("#status").select_option(value="acknowledged")
        gpage.locator("button[formaction$='/status']").click()
        expect(gpage.locator("#case-status")).to_have_text(welsh("Acknowledged"))
        _check(staff, "case-acknowledged")
        gpage.locator("#body").fill(GUARDIAN_REPLY)
        gpage.locator("button[formaction$='/messages']").click()
        expect(gpage.get_by_text(GUARDIAN_REPLY)).to_be_visible()
        _check(staff, "case-replied")

        # The reporter comes back with the code, reads the status and the guardian's words, and replies.
        page = reporter.goto("/")
        page.locator("#maincontent a[href='/follow-up']").click()
        _check(reporter, "follow-up")
        page.locator("#access_code").fill(code.lower().replace("-", " "))
        _submit(page, "#maincontent form")
        expect(page.locator("#case-status")).to_have_text(welsh("A guardian has seen your concern"))
        expect(page.get_by_text(GUARDIAN_REPLY)).to_be_visible()
        _check(reporter, "follow-up-case")
        page.locator("#body").fill(REPORTER_REPLY)
        _submit(page, "form[action='/follow-up/case/messages']")
        expect(page.get_by_text(REPORTER_REPLY)).to_be_visible()
        _check(reporter, "follow-up-replied")

        # The guardian reads the reply and closes the case with an outcome and a closing message.
        gpage.reload()
        expect(gpage.get_by_text(REPORTER_REPLY)).to_be_visible()
        _check(staff, "case-answered")
        gpage.locator("#close > summary").click()
        gpage.locator("#outcome").select_option(value="resolved")
        gpage.locator("#closing_message").fill(CLOSING_MESSAGE)
        gpage.locator("button[formaction$='/close']").click()
        expect(gpage.locator("#case-status")).to_have_text(welsh("Closed"))
        _check(staff, "case-closed")

        # The reporter sees the outcome and answers the closing questions.
        page.reload()
        expect(page.locator("#case-status")).to_have_text(welsh("Closed"))
        expect(page.get_by_text(CLOSING_MESSAGE)).to_be_visible()
        _check(reporter, "follow-up-closed")
        page.locator("input[name=speak_up_again][value=yes]").check()
        page.locator("input[name=detriment][value=no]").check()
        _submit(page, "#after-closing")
        expect(page.locator("#after-closing")).to_have_count(0)
        expect(page.get_by_text(welsh("Thank you for answering our question about speaking up again."))).to_be_visible()
        _check(reporter, "follow-up-answered")
    finally:
        reporter.close()
        staff.close()
    assert reporter.pages_checked == 9 and staff.pages_checked == 7


@pytest.mark.parametrize("app_overrides", ["en"], indirect=True, ids=["english-first"])
def test_choosing_cymraeg_half_way_through_the_raise_form_keeps_the_words(
    app: Flask, live_server: str, browser: Browser, welsh: Welsh
) -> None:
    visit = Visit(browser, live_server, javascript=False, label="cy-chosen-js-off")
    try:
        page = visit.goto("/raise")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        page.locator("#what_happened").fill(WHAT_HAPPENED)
        page.locator("#where").fill(WHERE)
        page.locator("input[name=anonymity][value=anonymous]").check()
        page.locator("button[name=language][value=cy]").click()
        expect(page).to_have_url(live_server + "/raise")
        expect(page.locator("#what_happened")).to_have_value(WHAT_HAPPENED)
        expect(page.locator("#where")).to_have_value(WHERE)
        expect(page.locator("input[name=anonymity][value=anonymous]")).to_be_checked()
        expect(page.locator(".nhsuk-error-summary")).to_have_count(0)  # kept as typed, not refused
        _check(visit, "raise-chosen")
        # On in Welsh, to the access code.
        _submit(page, "#raise-form")
        expect(page.locator("#answers-concern")).to_contain_text(WHAT_HAPPENED)
        _check(visit, "check-answers-chosen")
        _submit(page, "#maincontent form")
        expect(page.locator("#access-code")).to_be_visible()
        _check(visit, "confirmation-chosen")
    finally:
        visit.close()


@pytest.mark.parametrize("app_overrides", ["en"], indirect=True, ids=["english-first"])
@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_choosing_cymraeg_on_a_guardians_case_page_keeps_each_sections_words(
    app: Flask, live_server: str, browser: Browser, welsh: Welsh, javascript: bool
) -> None:
    """The case page's sections are one form: the chooser's button sends it, and each section's words come back in
    that section, in Welsh, JavaScript on or off."""
    from support.factories import gen_concern
    from support.html import case_address

    guardian = gen_staff(app, email="gwen@example.org", name="Gwen Gwarcheidwad")
    address = case_address(app, gen_concern(app.test_client())["reference"])
    visit = Visit(browser, live_server, javascript, f"cy-chosen-case-{'js-on' if javascript else 'js-off'}")
    try:
        page = visit.goto("/guardian/sign-in")
        page.locator("#email").fill(guardian.email)
        page.locator("#password").fill(guardian.password)
        page.locator("#security_code").fill(guardian.security_code())
        _submit(page, "main form")
        expect(page).to_have_url(visit.base_url + "/guardian/")
        page = visit.goto(address)
        expect(page.locator("html")).to_have_attribute("lang", "en")
        page.locator("#body").fill(GUARDIAN_REPLY)
        page.locator("#notes > summary").click()
        page.locator("#note").fill(NOTE)
        page.locator("button[name=language][value=cy]").click()
        expect(page).to_have_url(live_server + address)
        expect(page.locator("#body")).to_have_value(GUARDIAN_REPLY)
        expect(page.locator("#note")).to_have_value(NOTE)
        expect(page.locator(".nhsuk-error-summary")).to_have_count(0)  # kept as typed, not refused
        _check(visit, "case-chosen")
        # Sent in Welsh; the note stays in its section, as when any other section's button is pressed.
        page.locator("button[formaction$='/messages']").click()
        expect(page.locator(".speakup-message").get_by_text(GUARDIAN_REPLY)).to_be_visible()
        expect(page.locator("#note")).to_have_value(NOTE)
    finally:
        visit.close()


@pytest.mark.parametrize("app_overrides", ["en"], indirect=True, ids=["english-first"])
@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_choosing_cymraeg_leaves_no_language_in_history(
    app: Flask, live_server: str, browser: Browser, welsh: Welsh, tmp_path: Path, javascript: bool
) -> None:
    """Outside review r7b, F1: the chooser is a form posted to the page itself, so no address the browser visited
    (Chromium's History keeps a redirect's source too) says which language someone chose: read from the profile."""
    profile = tmp_path / "ward-computer"
    context = browser.browser_type.launch_persistent_context(
        str(profile), executable_path=shutil.which("chromium"), args=["--no-sandbox"], java_script_enabled=javascript
    )
    try:
        context.set_default_timeout(15_000)
        page = context.new_page()
        for path in ("/", "/follow-up", "/no-such-page"):
            page.goto(live_server + path)
            expect(page.locator("html")).to_have_attribute("lang", "en")
            page.locator(".speakup-languages__link[lang=cy]").click()
            expect(page.locator("html")).to_have_attribute("lang", "cy")
            expect(page).to_have_url(live_server + path)
            page.locator(".speakup-languages__link[lang=en]").click()
            expect(page.locator("html")).to_have_attribute("lang", "en")
    finally:
        context.close()
    with sqlite3.connect(profile / "Default" / "History") as history:
        visited = [str(url) for (url,) in history.execute("SELECT url FROM urls")]
    assert any(url.startswith(live_server) for url in visited), "History holds none of the site: nothing was tested"
    assert not [url for url in visited if "language" in url], visited


@pytest.mark.parametrize("app_overrides", ["en"], indirect=True, ids=["english-first"])
@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_enter_in_a_field_of_the_raise_form_does_not_change_the_language(
    app: Flask, live_server: str, browser: Browser, welsh: Welsh, javascript: bool
) -> None:
    """Outside review r7b, F4: the chooser's buttons belong to the raise form and come first, so Enter in "Where did
    it happen?" pressed "Cymraeg"; a disabled button of the form before them makes Enter send nothing."""
    visit = Visit(browser, live_server, javascript=javascript, label=f"enter-{javascript}")
    try:
        page = visit.goto("/raise")
        sent: list[str] = []
        page.on("request", lambda request: sent.append(request.url) if request.method == "POST" else None)
        page.locator("#where").fill(WHERE)
        page.locator("#where").press("Enter")
        page.wait_for_timeout(1_500)
        assert sent == [], sent
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page).to_have_url(live_server + "/raise")
        expect(page.locator("#where")).to_have_value(WHERE)
    finally:
        visit.close()
