"""Every page in a pseudo-locale (issue 28): with every message of messages.pot turned into accented text in ⟦ ⟧
(support/pseudo.py), each page a person can open (those raising and following up a concern, guardians, the
administrator, enrolment, the error pages, and the main forms sent with mistakes) shows no visible text outside
⟦ ⟧ but the test's own data. A string added to a page without ``_()`` (or not extracted into the template) fails
here, naming the page and the text. The app's GET routes are enumerated, so a new page must be visited here too.

The same tours run in Welsh, the shipped catalogue, started as a Welsh body starts every visit: every page says
``<html lang="cy">`` (tests/unit/test_catalogues.py checks that every message has its Welsh). The reporter's tour
runs again in a reporter-side language (Urdu, right to left) whose pseudo catalogue is made from reporter.pot alone:
every message those pages show must be in it, or a reporter-side translation made from it would miss it."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from babel import Locale
from flask import Flask
from flask.testing import FlaskClient
from support.apps import install_organisation_keys, make_app
from support.catalogues import directories_with
from support.factories import PASSWORD, enrolment_code, enrolment_path, gen_admin, gen_concern, gen_staff
from support.html import (
    ACCESS_CODE_RE,
    TOTP_SECRET_RE,
    case_address,
    following_up,
    guardian_message,
    post_form,
    send_raise_form,
    signed_in,
)
from support.present import found
from support.pseudo import CODE, ROOT, install_pseudo_catalogue, pseudo, untranslated

from speakup.platform.languages import KNOWN

WORDS = "The night shift on ward 7 is left with one nurse, week after week"
WHERE = "Ward 7, north wing"
REPORTER = "Sam Okafor-Lindqvist"
REPORTER_CONTACT = "sam.ol@example.org"
GUARDIAN_WORDS = "Thank you for telling us. Can you say which nights?"
REPORTER_REPLY = "Mostly the weekend nights"
RECORDED_WORDS = "The fridge temperatures were signed off without being checked"
RECORDED_NAME = "Priya Nurse"
NEW_STAFF = "Nia Newcomer"

# Routes that answer no HTML page: the JSON API, health checks, files to download.
NOT_PAGES = {
    "assets",
    "static",
    "health.healthz",
    "health.livez",
    "health.readyz",
    "guardian.download_attachment",
    "guardian.national_return_csv",
    "guardian.ngo_return_csv",
    "report.exit_page",  # "Exit this page": a redirect to the trust's chosen site, no page of its own
}


@dataclass
class Tour:
    """Pages seen in the pseudo-locale, and what each left untranslated."""

    app: Flask
    data: list[str]
    seen: set[str] = field(default_factory=set)
    offending: dict[str, list[str]] = field(default_factory=dict)

    def page(self, client: FlaskClient, url: str, label: str | None = None, mistakes: bool = False) -> str:
        """The page at ``url`` checked; with ``mistakes``, a form that came back with its error messages."""
        answer = client.get(url, follow_redirects=True)
        assert answer.mimetype == "text/html", f"{url} answered {answer.mimetype}"
        body = answer.get_data(as_text=True)
        assert f'<html lang="{self.code}"' in body, f"{url} is not in {self.code}"
        self.seen.add(_endpoint(self.app, urlsplit(url).path))
        self.seen.add(_endpoint(self.app, answer.request.path))
        assert not mistakes or "nhsuk-error-summary" in body, f"{label}: no error messages shown"
        self.check(label or f"GET {url} -> {answer.request.path}", body)
        return body

    @property
    def code(self) -> str:
        return str(self.app.config["DEFAULT_LANGUAGE"])

    def check(self, label: str, body: str) -> None:
        # No address on any page names a language (outside review r8, F1): History would keep it, and tell the next
        # person at the computer which language someone read the service in. The chooser is posted.
        naming = [href for href in re.findall(r'href="([^"]*)"', body) if "language=" in href]
        if naming:
            self.offending[label] = [f"href naming a language: {href}" for href in naming]
            return
        if self.code == "cy":  # Welsh: the page says so; its words are the catalogue's, checked there
            if f'<html lang="{self.code}"' not in body:
                self.offending[label] = [f"not lang={self.code}"]
            return
        found_here = untranslated(body, self.data, self.code)
        if found_here:
            self.offending[label] = found_here

    def report(self) -> str:
        count = sum(len(texts) for texts in self.offending.values())
        lines = [f"{count} texts not translated or addresses naming a language, on {len(self.offending)} pages:"]
        for label, texts in self.offending.items():
            lines.append(f"  {label} ({len(texts)}):")
            lines += [f"    {text}" for text in texts]
        return "\n".join(lines)


def _endpoint(app: Flask, path: str) -> str:
    try:
        endpoint, _arguments = app.url_map.bind("localhost").match(path, method="GET")
    except Exception:
        return "(error page)"
    return str(endpoint)


def _pages(app: Flask) -> set[str]:
    return {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ()) and not rule.endpoint.startswith("api.") and rule.endpoint not in NOT_PAGES
    }


def _in_pseudo_locale(database_url: str, tmp_path: Path) -> Flask:
    folder = install_pseudo_catalogue(tmp_path / "translations")
    return make_app(database_url, LANGUAGES=["en", CODE], DEFAULT_LANGUAGE=CODE,
                    BABEL_TRANSLATION_DIRECTORIES=directories_with(folder))  # fmt: skip


@pytest.fixture(params=[CODE, "cy"])
def pseudo_app(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[Flask]:
    if request.param == CODE:
        app = _in_pseudo_locale(database_url, tmp_path)
    else:
        app = make_app(database_url, LANGUAGES=["en", "cy"], DEFAULT_LANGUAGE="cy")
        assert app.config["LANGUAGES_OFFERED"][0].code == "cy", "the Welsh catalogue is not installed (make install)"
    install_organisation_keys(app)
    yield app


def _tour(app: Flask, *more: str) -> Tour:
    names = [language.name for language in KNOWN.values()] + ["Esperanto", "esperanto"]
    # A language is also named in the page's language, from Babel's CLDR data (not a message of ours to translate).
    names += [Locale.parse(code).get_display_name(CODE) or code for code in KNOWN]
    return Tour(app, [WORDS, WHERE, REPORTER, REPORTER_CONTACT, GUARDIAN_WORDS, REPORTER_REPLY, RECORDED_WORDS,
                      RECORDED_NAME, NEW_STAFF, app.config["ORGANISATION_NAME"], *names, *more])  # fmt: skip


def _finish(tour: Tour, endpoints: set[str]) -> None:
    missed = endpoints - tour.seen
    assert not missed, f"pages never rendered by this tour: {sorted(missed)}"
    assert not tour.offending, tour.report()


# --- The pages of those raising and following up a concern ------------------------------------------------------

REPORTER_PAGES = {
    "report.home",
    "report.other_ways",
    "report.raise_form",
    "report.check_answers",
    "report.confirmation",
    "report.hide_code",
    "report.confirmation_done",
    "about.accessibility",
    "about.privacy",
    "followup.start",
    "followup.case_page",
    "followup.signed_out",
}


def test_the_reporters_pages(pseudo_app: Flask) -> None:
    _reporters_tour(pseudo_app)


def test_the_reporters_pages_need_only_the_reporters_template(database_url: str, tmp_path: Path) -> None:
    """Urdu made from reporter.pot alone, the default: every reporter's page (and an error page reached from one)
    wholly in it, right to left, with the interpreter's note; a guardian's page in English, the other offered."""
    folder = install_pseudo_catalogue(tmp_path / "translations", ROOT / "speakup/translations/reporter.pot", "ur")
    app = make_app(database_url, LANGUAGES=["ur", "en"], DEFAULT_LANGUAGE="ur",
                   BABEL_TRANSLATION_DIRECTORIES=directories_with(folder))  # fmt: skip
    install_organisation_keys(app)
    home = _reporters_tour(app)
    assert '<html lang="ur" dir="rtl">' in home
    assert pseudo("You can write in this language, but a guardian may need an interpreter to read a concern written "
                  "in it.") in home  # fmt: skip
    tour = _tour(app)
    missing = app.test_client().get("/no-such-page")
    tour.check("GET /no-such-page (404)", missing.get_data(as_text=True))
    assert not tour.offending and '<html lang="ur"' in missing.get_data(as_text=True), tour.report()
    assert '<html lang="en"' in app.test_client().get("/guardian/sign-in").get_data(as_text=True)


def _reporters_tour(app: Flask) -> str:
    """Every reporter's page checked; returns the home page."""
    tour = _tour(app)
    home = tour.page(app.test_client(), "/")
    client = app.test_client()
    for url in ("/other-ways", "/accessibility", "/privacy", "/raise", "/follow-up"):
        tour.page(client, url)
    # The raise form sent with mistakes (nothing chosen), then "Continue" to "Check your answers".
    page = client.get("/raise").get_data(as_text=True)
    refused = post_form(client, "/raise", "/raise", step="check", what_happened="", where=WHERE,
                        submission=found(r'name="submission" value="([^"]+)"', page))  # fmt: skip
    tour.page(client, refused.location, "the raise form with mistakes", mistakes=True)
    sent = send_raise_form(app.test_client(), what_happened=WORDS, where=WHERE, anonymity="confidential",
                           name=REPORTER, contact=REPORTER_CONTACT)  # fmt: skip
    tour.check("the confirmation (/raise/sent)", sent.get_data(as_text=True))
    tour.seen.add("report.confirmation")
    checking = app.test_client()
    page = checking.get("/raise").get_data(as_text=True)
    post_form(checking, "/raise", "/raise", step="check", what_happened=WORDS, anonymity="anonymous",
              submission=found(r'name="submission" value="([^"]+)"', page))  # fmt: skip
    tour.page(checking, "/raise/check", "check your answers")
    confirming = app.test_client()
    confirmation = send_raise_form(confirming, what_happened=WORDS, anonymity="anonymous").get_data(as_text=True)
    code = found(ACCESS_CODE_RE, confirmation)
    tour.data.append(code)
    tour.page(confirming, "/raise/sent/hide")
    tour.page(confirming, "/raise/done")
    # Following up: a wrong code, then the case with a guardian's message and a reply, then signed out.
    mistaken = app.test_client()
    wrong = post_form(mistaken, "/follow-up", access_code="0000-0000-0000-0000")
    tour.page(mistaken, wrong.location, "follow-up with a wrong code", mistakes=True)
    guardian = gen_staff(app)
    signed = signed_in(app, guardian)
    reference = gen_concern(app.test_client(), what_happened=WORDS, anonymity="anonymous")
    tour.data.append(reference["reference"])
    guardian_message(signed, reference["reference"], GUARDIAN_WORDS)
    reporter = following_up(app, reference["access_code"])
    tour.page(reporter, "/follow-up/case", "the reporter's case page")
    refused_reply = post_form(reporter, "/follow-up/case", "/follow-up/case/messages", body="")
    tour.page(reporter, refused_reply.location or "/follow-up/case", "a reply sent empty", mistakes=True)
    post_form(reporter, "/follow-up/case", "/follow-up/sign-out")
    tour.page(reporter, "/follow-up/signed-out")
    _finish(tour, REPORTER_PAGES)
    return home


# --- Guardians ----------------------------------------------------------------------------------------------------

GUARDIAN_PAGES = {
    "guardian.sign_in",
    "guardian.queue",
    "guardian.case_page",
    "guardian.change_password",
    "guardian.board_page",
    "guardian.reports_page",
    "guardian.share_all",
    "guardian.record_concern",
    "guardian.recorded",
    "guardian.new_access_code",
    "team.team",
}


def test_the_guardians_pages(pseudo_app: Flask) -> None:
    app = pseudo_app
    tour = _tour(app, "Gita Guardian", "Pat Pending", "guardian@example.org", "pending@example.org")
    anonymous = app.test_client()
    tour.page(anonymous, "/guardian/sign-in")
    guardian = gen_staff(app)
    failed = post_form(anonymous, "/guardian/sign-in", email=guardian.email, password="wrong", security_code="000000")
    tour.page(anonymous, failed.location, "sign-in refused", mistakes=True)
    raised = gen_concern(app.test_client(), what_happened=WORDS, anonymity="confidential", name=REPORTER,
                         contact=REPORTER_CONTACT)  # fmt: skip
    tour.data.append(raised["reference"])
    signed = signed_in(app, guardian)
    case_url = case_address(app, raised["reference"])
    guardian_message(signed, raised["reference"], GUARDIAN_WORDS)
    for url in ("/guardian/", case_url, "/guardian/account/password", "/guardian/board", "/guardian/reports",
                "/guardian/share", "/guardian/team", "/guardian/record"):  # fmt: skip
        tour.page(signed, url)
    empty = post_form(signed, case_url, f"{case_url}/messages", body="")
    tour.page(signed, empty.location, "a case's message sent empty", mistakes=True)
    wrong = post_form(signed, "/guardian/account/password", current_password="wrong", new_password="x", confirm="y")
    tour.page(signed, wrong.location, "change password with mistakes", mistakes=True)
    unrecorded = post_form(signed, "/guardian/record", channel="", what_happened="")
    tour.page(signed, unrecorded.location, "record a concern with mistakes", mistakes=True)
    recorded = post_form(signed, "/guardian/record", channel="in_person", what_happened=RECORDED_WORDS,
                         anonymity="confidential", name=RECORDED_NAME, contact="07700 900123")  # fmt: skip
    tour.page(signed, recorded.location, "a concern recorded")
    given = post_form(signed, case_url, f"{case_url}/new-access-code")
    tour.page(signed, given.location, "a new access code")
    pending = gen_staff(app, email="pending@example.org", name="Pat Pending", approved=False)
    tour.page(signed_in(app, pending), "/guardian/", "a pending guardian's queue")
    _finish(tour, GUARDIAN_PAGES)


# --- The administrator, and enrolling -----------------------------------------------------------------------------

ADMIN_PAGES = {"admin.accounts", "admin.invite", "admin.enrolment_link", "admin.reset_password"}
ENROLMENT_PAGES = {"enrol.enrol", "enrol.done"}


def _invited(app: Flask, tour: Tour) -> tuple[FlaskClient, str]:
    admin = gen_admin(app)
    client = signed_in(app, admin)
    for url in ("/admin/", "/admin/invite"):
        tour.page(client, url)
    refused = post_form(client, "/admin/invite", name="", email="not an email", role="guardian")
    tour.page(client, refused.location, "invite with mistakes", mistakes=True)
    invited = post_form(client, "/admin/invite", name=NEW_STAFF, email="nia@example.org", role="guardian")
    page = tour.page(client, invited.location, "an account's enrolment link")
    return client, page


def test_the_administrators_pages(pseudo_app: Flask) -> None:
    app = pseudo_app
    tour = _tour(app, "Ada Admin", "admin@example.org", "nia@example.org", "Gita Guardian", "guardian@example.org")
    client, _page = _invited(app, tour)
    other = gen_staff(app)
    tour.page(client, f"/admin/users/{other.id}/reset-password")
    _finish(tour, ADMIN_PAGES)


def test_enrolling_from_a_link(pseudo_app: Flask) -> None:
    app = pseudo_app
    tour = _tour(app, "Ada Admin", "admin@example.org", "nia@example.org")
    _client, page = _invited(app, tour)
    path = enrolment_path(page)
    newcomer = app.test_client()
    enrolment = tour.page(newcomer, path, "the enrolment page")
    token = parse_qs(urlsplit(path).query)["token"][0]
    secret = found(TOTP_SECRET_RE, enrolment)
    refused = post_form(newcomer, path, "/enrol", token=token, password="short", confirm="other", totp_secret=secret)
    tour.page(newcomer, refused.location, "enrolment with mistakes", mistakes=True)
    # Then enrolled: the password, the security code from the page's secret, and the page that ends it.
    tour.data.append(secret)
    totp_secret = base64.b32decode(secret + "=" * (-len(secret) % 8))
    done = post_form(newcomer, path, "/enrol", token=token, password=PASSWORD, confirm=PASSWORD, totp_secret=secret,
                     security_code=enrolment_code(totp_secret))  # fmt: skip
    tour.page(newcomer, done.location, "enrolled")
    _finish(tour, ENROLMENT_PAGES)


# --- Error pages --------------------------------------------------------------------------------------------------


def test_the_error_pages(pseudo_app: Flask) -> None:
    app = pseudo_app
    tour = _tour(app, "Gita Guardian")  # the guardian who is refused an administrator's page, named in its header
    for url, status in (("/no-such-page", 404), ("/guardian/sign-out", 405)):
        answer = app.test_client().get(url)
        assert answer.status_code == status
        tour.check(f"GET {url} ({answer.status_code})", answer.get_data(as_text=True))
    refused = app.test_client().post("/follow-up", data={"csrf_token": "forged"})
    tour.check("a form refused (out of date)", app.test_client().get(refused.location).get_data(as_text=True))
    admin_only = signed_in(app, gen_staff(app))
    answer = admin_only.get("/admin/")
    tour.check(f"GET /admin/ as a guardian ({answer.status_code})", answer.get_data(as_text=True))
    assert not tour.offending, tour.report()


def test_every_page_is_on_a_tour(pseudo_app: Flask) -> None:
    """Each page the app can show is visited by one of the tours above: a new route needs its state here."""
    toured = REPORTER_PAGES | GUARDIAN_PAGES | ADMIN_PAGES | ENROLMENT_PAGES
    assert _pages(pseudo_app) - toured == set()


def test_the_harness_finds_an_unmarked_string(database_url: str, tmp_path: Path) -> None:
    """The check itself: a page's text that is not in the catalogue is found, the test's data is not."""
    pseudo_app = _in_pseudo_locale(database_url, tmp_path)
    with pseudo_app.test_request_context("/"):
        page = pseudo_app.jinja_env.from_string(
            '<html lang="eo"><p>{{ _("Language") }} {{ words }}</p><p>Not marked</p></html>'
        ).render(words=WORDS)
    assert untranslated(page, [WORDS]) == ["html/p: Not marked"]
