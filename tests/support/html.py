"""Pages as a browser uses them: the CSRF token from the form, then the post; signing in and out."""

from __future__ import annotations

import re
import urllib.parse
from typing import TYPE_CHECKING

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from support.present import found

if TYPE_CHECKING:
    from support.factories import Staff

# What the pages mark with an id, read back by the tests.
VERSION_RE = re.compile(r'name="version" value="(\d+)"')
ACCESS_CODE_RE = re.compile(r'id="access-code"[^>]*>([^<]+)<')
REFERENCE_RE = re.compile(r'id="case-reference"[^>]*>([^<]+)<')
ENROLMENT_LINK_RE = re.compile(r'<code id="enrolment-link">([^<]+)</code>')
TOTP_SECRET_RE = re.compile(r'<code id="totp-secret"[^>]*>([^<]+)</code>')
SAFETY_CODE_RE = re.compile(r'<span id="safety-code">([0-9 ]+)</span>')
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
SUBMISSION_RE = re.compile(r'name="submission" value="([^"]+)"')
ANSWERS_RE = re.compile(r'name="answers" value="([^"]+)"')


def csrf_token(client: FlaskClient, url: str) -> str:
    page = client.get(url)
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def post_form(client: FlaskClient, form_url: str, action: str | None = None, **data: str) -> TestResponse:
    """Loads the form page for its CSRF token, then posts to it, as a browser would."""
    data = {"csrf_token": csrf_token(client, form_url), **data}
    return client.post(action or form_url, data=data)


def send_raise_form(client: FlaskClient, form_url: str = "/raise", **fields: str) -> TestResponse:
    """Sends the raise form as a browser does, with the CSRF and one-time tokens of the page ("Continue"), then
    "Submit concern" on "Check your answers", following the redirects: to the confirmation, or back to the form
    with its errors."""
    page = client.get(form_url).get_data(as_text=True)
    token, submission = CSRF_RE.search(page), SUBMISSION_RE.search(page)
    assert token and submission, "no CSRF or submission token on the raise form"
    data = {"csrf_token": token.group(1), "submission": submission.group(1), "step": "check", **fields}
    checked = client.post("/raise", data=data, follow_redirects=True)
    if checked.request.path != "/raise/check":
        return checked  # back to the form with its errors, or refused
    return submit_checked_answers(client, checked.get_data(as_text=True))


def submit_checked_answers(client: FlaskClient, check_page: str) -> TestResponse:
    """ "Submit concern" on "Check your answers", as a browser sends it: only the page's tokens."""
    data = {
        "csrf_token": found(CSRF_RE, check_page),
        "submission": found(SUBMISSION_RE, check_page),
        "answers": found(ANSWERS_RE, check_page),
    }
    return client.post("/raise/check", data=data, follow_redirects=True)


class AuthActions:
    def __init__(self, client: FlaskClient):
        self._client = client

    def sign_in(self, staff: Staff, code: str | None = None) -> TestResponse:
        return post_form(
            self._client,
            "/guardian/sign-in",
            email=staff.email,
            password=staff.password,
            security_code=code if code is not None else staff.security_code(),
        )

    def signed_in(self, staff: Staff) -> FlaskClient:
        """Signs ``staff`` in on this browser, checked to have worked (a refused sign-in is a 303 too, back to the
        sign-in page), and returns the browser."""
        response = self.sign_in(staff)
        assert response.status_code == 303, response.get_data(as_text=True)
        assert urllib.parse.urlsplit(response.location).path != "/guardian/sign-in", "the sign-in was refused"
        return self._client

    def sign_out(self) -> TestResponse:
        return post_form(self._client, "/guardian/", "/guardian/sign-out")


def signed_in(app: Flask, staff: Staff) -> FlaskClient:
    """A browser of its own, signed in as ``staff`` (a guardian or an administrator)."""
    return AuthActions(app.test_client()).signed_in(staff)


def following_up(app: Flask, code: str) -> FlaskClient:
    """A browser of its own, signed in with an access code to the reporter's follow-up pages."""
    reporter = app.test_client()
    sent = post_form(reporter, "/follow-up", access_code=code)
    assert sent.status_code == 303 and sent.location.startswith("/follow-up/case"), sent.location
    return reporter


def guardian_message(client: FlaskClient, reference: str, body: str) -> None:
    url = f"/guardian/cases/{reference}"
    response = post_form(client, url, f"{url}/messages", body=body)
    assert response.status_code == 303, response.status_code
    landed = client.get(response.location).get_data(as_text=True)
    assert "nhsuk-error-summary" not in landed and "form-refused" not in landed, "the message was refused"


def case_action(
    client: FlaskClient, reference: str, action: str, version: str | None = None, **fields: str
) -> TestResponse:
    """Posts one form of a guardian's case page (``action`` is the part of its address after the case), with the
    case version the page was loaded at unless ``version`` names an older one."""
    url = f"/guardian/cases/{reference}"
    if version is None:
        version = found(VERSION_RE, client.get(url).get_data(as_text=True))
    return post_form(client, url, f"{url}/{action}", version=version, **fields)


def reporter_case_page(app: Flask, code: str) -> str:
    """The follow-up case page as the person who raised the concern sees it, signed in with their code afresh."""
    return following_up(app, code).get("/follow-up/case").get_data(as_text=True)


def guardian_status(client: FlaskClient, reference: str, status: str) -> None:
    url = f"/guardian/cases/{reference}"
    page = client.get(url)
    assert page.status_code == 200
    version = VERSION_RE.search(page.get_data(as_text=True))
    assert version, "no version on the guardian case page"
    if status == "closed":  # closing has its own form: an outcome and a closing message
        response = post_form(
            client, url, f"{url}/close", outcome="resolved", closing_message="Thank you.", version=version.group(1)
        )
    else:
        response = post_form(client, url, f"{url}/status", status=status, version=version.group(1))
    assert response.status_code == 303, response.status_code
    landed = client.get(response.location).get_data(as_text=True)
    assert "nhsuk-error-summary" not in landed and "form-refused" not in landed, f"{status} was refused"


def walk_to(client: FlaskClient, reference: str, *statuses: str) -> None:
    for status in statuses:
        guardian_status(client, reference, status)


def case_address(app: Flask, reference: str) -> str:
    """A guardian's case page, as the pages link it: by the case's id, never its reference (History keeps
    addresses). The page answers at the reference too, but what is kept for a form is kept for the address the
    form's answer led to."""
    from speakup.domain import references

    with app.app_context():
        case = references.case_by_reference(reference)
        assert case is not None, "no such case"
        return f"/guardian/cases/{case.id}"
