"""Pages as a browser uses them: the CSRF token from the form, then the post; signing in and out."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from flask.testing import FlaskClient

if TYPE_CHECKING:
    from support.factories import Staff

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: FlaskClient, url: str) -> str:
    page = client.get(url)
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def post_form(client: FlaskClient, form_url: str, action: str | None = None, **data: str):
    """Loads the form page for its CSRF token, then posts to it, as a browser would."""
    data = {"csrf_token": csrf_token(client, form_url), **data}
    return client.post(action or form_url, data=data)


class AuthActions:
    def __init__(self, client: FlaskClient):
        self._client = client

    def sign_in(self, staff: Staff, code: str | None = None):
        return post_form(
            self._client,
            "/guardian/sign-in",
            email=staff.email,
            password=staff.password,
            security_code=code if code is not None else staff.security_code(),
        )

    def sign_out(self):
        return post_form(self._client, "/guardian/", "/guardian/sign-out")
