"""Time-based one-time passwords (RFC 6238) through cryptography's twofactor module.

The time is always the caller's (``at``, seconds since the epoch, from platform/clock.py): never read here, so a
test that sets the service's clock gets codes for that time."""

from __future__ import annotations

import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP

TOTP_STEP = 30

TOTP_DIGITS = 6


def new_totp_secret() -> bytes:
    return secrets.token_bytes(20)


def _totp(secret: bytes) -> TOTP:
    # SHA-1 is what RFC 6238 authenticator apps use; HMAC-SHA1 stays sound for this purpose.
    return TOTP(secret, TOTP_DIGITS, hashes.SHA1(), TOTP_STEP, enforce_key_length=True)  # noqa: S303


def totp_uri(secret: bytes, account: str, issuer: str) -> str:
    return _totp(secret).get_provisioning_uri(account, issuer)


def totp_now(secret: bytes, at: float) -> str:
    return _totp(secret).generate(int(at)).decode()


def totp_step_matching(secret: bytes, code: str, at: float) -> int | None:
    """The time step a code belongs to (allowing one step of clock drift either way), or None."""
    code = "".join(code.split())
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return None
    totp = _totp(secret)
    step = int(at) // TOTP_STEP
    for candidate in (step, step - 1, step + 1):
        try:
            totp.verify(code.encode(), candidate * TOTP_STEP)
        except InvalidToken:
            continue
        return candidate
    return None
