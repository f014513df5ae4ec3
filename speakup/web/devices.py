"""Device cookies (OWASP's answer to lockout): a browser that has signed in to an account before is let past that
account's failure limit, so someone guessing a named guardian's password from elsewhere cannot lock them out.

After a successful sign-in the browser gets a signed cookie naming the account by a keyed hash, never the address.
While it presents that cookie for the account being signed in to, the per-account limit does not apply; the
device's own limit does, so a stolen cookie still buys only a few guesses. The cookie opens nothing by itself:
the password and security code are still needed.
"""

from __future__ import annotations

import secrets

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from speakup.domain.browser_sessions import pseudonym, pseudonyms

COOKIE = "speakup_device"
MAX_AGE_DAYS = 180
_SALT = "speakup device cookie"


def _serializer() -> URLSafeTimedSerializer:
    # Signed with the newest key; one signed with a key it replaced is still read (the newest last, as itsdangerous
    # takes them).
    keys = [*current_app.config.get("SECRET_KEY_FALLBACKS", []), current_app.config["SECRET_KEY"]]
    return URLSafeTimedSerializer(keys, salt=_SALT)


def _account(email: str) -> str:
    return pseudonym(email.strip().lower(), "device-account")


def remember(response: Response, email: str) -> None:
    """Marks this browser as one that signed in to ``email``'s account."""
    value = _serializer().dumps({"account": _account(email), "device": secrets.token_urlsafe(16)})
    response.set_cookie(
        COOKIE,
        value,
        max_age=MAX_AGE_DAYS * 86400,
        path="/guardian/",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )


def _claims() -> dict | None:
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    try:
        claims = _serializer().loads(value, max_age=MAX_AGE_DAYS * 86400)
    except BadSignature:
        return None
    return claims if isinstance(claims, dict) else None


def is_known_for_attempted_account() -> bool:
    """Whether this browser signed in before to the account named in the sign-in form."""
    claims = _claims()
    # Named under any configured pepper: a browser that signed in before a rotation is still known.
    email = (request.form.get("email") or "").strip().lower()
    return claims is not None and claims.get("account") in pseudonyms(email, "device-account")


def device_limit_key() -> str:
    """The known device's own budget of failures (only used while ``is_known_for_attempted_account``)."""
    claims = _claims() or {}
    return "device:" + str(claims.get("device", ""))
