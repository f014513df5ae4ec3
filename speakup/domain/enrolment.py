"""One-time enrolment links: the person an account is for chooses their own password and security code.

An administrator never sees a password or a TOTP secret: adding an account or resetting one gives them a link,
whose token is stored only as a keyed hash (under the server pepper), expires after ``ENROLMENT_HOURS`` and works
once. Opening it, the person chooses a password (the same NIST rules as everywhere), scans a QR code or types the
text secret into an authenticator app and proves it with one code; their HPKE and signing key pairs are made then
and sealed under the password. A guardian then sees their safety code, which the approving guardian types in.

Whether a link may be used is decided by the roster log, anchored outside the database (keys/spent.py): its issue
for this account, its use, and a later link for the account are entries of it, each anchored at once. The row's
``used_at`` and ``expires_at`` and the audit trail's records only add refusals (outside review r4 of issue 27, F1).
"""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import Any, cast

import segno
from sqlalchemy import CursorResult, select, update

from speakup.crypto import sealing, totp
from speakup.crypto.passwords import Problem, password_problem
from speakup.keys import account_identity, account_keys, roster, roster_log, spent
from speakup.ops import audit
from speakup.platform import clock, transactions
from speakup.platform.config import settings
from speakup.platform.models import Enrolment, Role, User, db
from speakup.platform.public_urls import public_url
from speakup.platform.translation import gettext as _

TOKEN_PURPOSE = "enrolment"  # noqa: S105 - the keyed hash's purpose label, not a secret
STAMP_KIND = "enrolment"

logger = logging.getLogger(__name__)


class LinkUnusable(Exception):
    """The link is unknown (404), or used, expired or for a disabled account (410), or cannot be checked during a
    roster alarm (503, "unavailable"). ``reason`` says which."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
        self.status = {"unknown": 404, spent.UNAVAILABLE: 503}.get(reason, 410)


class EnrolmentInvalid(Exception):
    """What the person typed breaks a rule. ``errors`` maps each field to a message they can act on."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("invalid enrolment: " + ", ".join(sorted(errors)))
        self.errors = errors


def password_message(problem: Problem) -> str:
    """A password rule's sentence in the language of the page (speakup/crypto/passwords.py knows only English)."""
    return str(_(problem.msgid, **problem.values))


def _token_hash(token: str) -> str:
    return sealing.keyed_hash(settings().token_pepper, token, TOKEN_PURPOSE)


def issue_link(user: User, admin: User) -> str:
    """A new link for ``user``; any earlier unused link of theirs stops working. The caller commits; it takes a
    place in the roster log (transactions.one_place_in_the_log)."""
    now = clock.utcnow()
    for earlier in db.session.scalars(
        db.select(Enrolment).where(Enrolment.user_id == user.id, Enrolment.used_at.is_(None))
    ):
        earlier.expires_at = min(earlier.expires_at, now)
    token = secrets.token_urlsafe(32)
    token_hash = _token_hash(token)
    hours = float(settings().enrolment_hours)
    db.session.add(
        Enrolment(user_id=user.id, token_hash=token_hash, created_at=now, expires_at=now + timedelta(hours=hours))
    )
    audit.record(
        audit.Action.ENROLMENT_LINK_ISSUED, audit.Actor.ADMIN, admin.id,
        email=user.email, user_id=user.id, token_hash=token_hash,
    )  # fmt: skip
    # What decides: the anchored log names the link for this very account (and so no earlier one any more).
    # Anchored as soon as it is committed (keys/written.py): cutting the log back after that is a roster alarm.
    roster_log.link_issued(user, token_hash, settings().token_pepper)
    return token


def link_url(token: str) -> str:
    return public_url("/enrol", token=token)


def _stamped(row: Enrolment) -> tuple[int, int, str, datetime]:
    return (row.id, row.user_id, row.token_hash, row.expires_at)


def _found(token: str) -> Enrolment | None:
    """Any configured pepper: a link sent before a rotation of the pepper still works until it expires. One found
    under a fallback opens only while the stamp the rotation gave it holds: a link inserted or changed by someone
    holding only an old pepper is unknown, with an ERROR line."""
    peppers = settings().token_peppers
    hashes = sealing.keyed_hashes(peppers, token[:100], TOKEN_PURPOSE)
    for row in db.session.scalars(select(Enrolment).where(Enrolment.token_hash.in_(hashes))).all():
        if sealing.found_stamp_holds(peppers, hashes, row.token_hash, row.pepper_stamp, STAMP_KIND, _stamped(row)):
            return row
        logger.error(
            "Pepper stamp invalid: enrolment link %s was found under a fallback pepper without a stamp "
            "`speakup rotate-pepper` made; refused (a database writer holding an old pepper?)",
            row.id,
        )
    return None


def stamp_for_rotation(old: bytes, fallbacks: Sequence[bytes], new: bytes) -> int:
    """At `speakup rotate-pepper`: stamps, under the new pepper, every link that opens now; returns how many."""
    stamped = 0
    for row in db.session.scalars(select(Enrolment)):
        row.pepper_stamp = sealing.rotated_stamp(row.pepper_stamp, STAMP_KIND, _stamped(row), old, fallbacks, new)
        stamped += row.pepper_stamp is not None
    return stamped


def open_link(token: str) -> Enrolment:
    row = _found(token)
    if row is None:
        raise LinkUnusable("unknown")
    configured = settings()
    refused = spent.link_refuses(
        roster.current_roster().spent, row.token_hash, roster_log.account_of(row.user), clock.utcnow(),
        float(configured.enrolment_hours), configured.token_peppers,
    )  # fmt: skip
    if refused is None and row.used_at is not None:
        refused = "used"
    if refused is None and row.expires_at <= clock.utcnow():
        refused = "expired"
    if refused is not None:
        raise LinkUnusable(refused)
    if not row.user.is_active:
        raise LinkUnusable("disabled")
    return row


def link_for_enrolling(token: str) -> Enrolment:
    """``open_link``, for an account whose row is as the service left it: not one whose id was swapped with another's
    or whose role was set in the database while the link was followed (outside review r4, F2), whose page would name
    another account and into which nothing may be sealed."""
    row = open_link(token)
    if not account_identity.checked(row.user, "enrolment"):
        raise LinkUnusable("unknown")
    return row


# --- The security code (TOTP) ---------------------------------------------------------------------------------


def new_totp_text() -> str:
    """A fresh secret as the base32 text an authenticator app takes (no padding)."""
    return base64.b32encode(totp.new_totp_secret()).decode("ascii").rstrip("=")


def totp_from_text(text: str) -> bytes | None:
    cleaned = "".join(text.split()).upper()
    try:
        secret = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except ValueError:
        return None
    return secret if len(secret) == len(totp.new_totp_secret()) else None


def totp_uri(text: str, user: User) -> str:
    secret = totp_from_text(text)
    if secret is None:
        raise ValueError("not a security code secret")  # the text is one new_totp_text made
    return totp.totp_uri(secret, user.email, "Speak Up")


def totp_qr_svg(text: str, user: User) -> str:
    """The otpauth URI as an inline SVG QR code, drawn on the server: no script, no style attribute."""
    code = segno.make(totp_uri(text, user), error="m")
    svg = code.svg_inline(
        scale=4,
        dark="#000",
        light="#fff",
        title=_("QR code for your authenticator app"),
        svgclass="speakup-qr",
        lineclass=None,
    )
    label = escape(_("QR code for your authenticator app"))
    return svg.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)


# --- Finishing -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Enrolled:
    user: User
    safety_code: str | None  # guardians only: what the approving guardian types in


@transactions.one_place_in_the_log
def complete(token: str, password: str, confirm: str, totp_text: str, security_code: str) -> Enrolled:
    """Seals new key pairs under the chosen password and uses up the link."""
    row = link_for_enrolling(token)
    user = row.user
    errors: dict[str, str] = {}
    problem = password_problem(password, email=user.email, name=user.name)
    if problem:
        errors["password"] = password_message(problem)
    elif password != confirm:
        errors["confirm"] = _("The passwords do not match: type the same password twice")
    totp_secret, step = None, None
    if settings().require_mfa:
        totp_secret = totp_from_text(totp_text)
        if totp_secret is None:
            raise LinkUnusable("unknown")  # the page's own hidden field was changed: start again from the link
        step = totp.totp_step_matching(totp_secret, security_code, clock.timestamp())
        if step is None:
            errors["security_code"] = (
                _("Enter the 6-digit security code your authenticator app shows now")
                if not security_code.strip()
                else _("That security code is not right: check your phone's clock and enter the newest code")
            )
    if errors:
        raise EnrolmentInvalid(errors)
    keys = account_keys.new_account_keys()
    account_keys.seal_account(user, password, account_keys.password_params(), keys, totp_secret)
    user.totp_last_step = step  # the code just used cannot sign in as well
    _use_up(row)
    roster_log.link_used(user.id, row.token_hash)  # what decides; anchored at once, as its issue was
    audit.record(audit.Action.ACCOUNT_ENROLLED, user.role, user.id, email=user.email, token_hash=row.token_hash)
    # From the keys just made, in this request: what the person reads out is what they hold.
    safety = roster.safety_code_held(keys.private_key, keys.signing_key) if user.role == Role.GUARDIAN else None
    return Enrolled(user, safety)


def _use_up(row: Enrolment) -> None:
    """Claims the link with one conditional UPDATE, not a read then a write: the same link sent twice at once is
    two requests that both found it unused, and only the database's row lock can tell which came first. The later
    one changes nothing (its keys are rolled back) and is told the link was used."""
    claimed = db.session.execute(
        update(Enrolment)
        .where(Enrolment.id == row.id, Enrolment.used_at.is_(None))
        .values(used_at=clock.utcnow())
        .execution_options(synchronize_session=False)
    )
    if cast("CursorResult[Any]", claimed).rowcount != 1:  # an UPDATE's result is a CursorResult
        raise LinkUnusable("used")  # nothing of this send is kept: complete() is an action
