"""``gen_*`` factories: staff accounts, concerns, enrolments and files, made the way the service makes them."""

from __future__ import annotations

import base64
import html
import io
import re
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from speakup.crypto import totp
from speakup.domain import enrolment, quarters
from speakup.domain.staff import create_user
from speakup.keys import approvals, recovery
from speakup.platform import clock, transactions
from speakup.platform.models import Case, CaseGrant, CaseTheme, User, db
from support.html import ENROLMENT_LINK_RE, SAFETY_CODE_RE, TOTP_SECRET_RE, post_form, signed_in
from support.present import present, scalar

PASSWORD = "correct horse battery staple"


@dataclass
class Staff:
    id: int
    email: str
    password: str
    totp_secret: bytes | None
    steps_used: int = 0

    def security_code(self) -> str:
        # Each sign-in needs a code from a later time step than the last (replay protection),
        # so successive sign-ins in one test use the next step, which the server accepts as drift. The service's
        # clock, not the wall's: enrolment_code() may have set it on.
        code = totp.totp_now(self.totp_secret, clock.timestamp() + 30 * self.steps_used) if self.totp_secret else ""
        self.steps_used += 1
        return code


def organisation_secrets(app: Flask) -> recovery.OrganisationSecrets:
    """What the test installation's offline recovery key file holds."""
    return recovery.OrganisationSecrets(app.config["TEST_RECOVERY_PRIVATE_KEY"], app.config["TEST_ROSTER_SIGNING_KEY"])


def gen_staff(
    app: Flask,
    email: str = "guardian@example.org",
    role: str = "guardian",
    name: str = "Gita Guardian",
    approved: bool = True,
) -> Staff:
    """A staff account. A guardian is approved with the organisation key unless ``approved`` is False."""
    with app.app_context(), transactions.unit_of_work():
        account = create_user(email, name, role, PASSWORD)
        if role == "guardian" and approved:
            code = present(account.safety_code, "safety code for the new guardian's keys")
            approvals.approve_with_organisation_key(account.user, organisation_secrets(app), code)
        return Staff(account.user.id, email, PASSWORD, account.totp_secret)


def gen_admin(app: Flask, email: str = "admin@example.org", name: str = "Ada Admin") -> Staff:
    """An administrator's account (administrators need no approval)."""
    return gen_staff(app, email=email, role="admin", name=name)


def signed_in_admin(app: Flask) -> tuple[FlaskClient, Staff]:
    """A new administrator, and a browser of its own signed in as them."""
    admin = gen_admin(app)
    return signed_in(app, admin), admin


def gen_concern(client: FlaskClient, **fields: object) -> dict[str, Any]:
    body = {"what_happened": "The night shift was left unsafe.", "anonymity": "anonymous", **fields}
    response = client.post("/api/v1/concerns", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def reference_opened_by(app: Flask, code: str) -> str:
    """The reference of the case an access code opens, opened the way the service opens it."""
    from speakup.keys import grants

    with app.app_context():
        case, _key = grants.open_with_access_code(code, app.config["TOKEN_PEPPER_BYTES"])
        return case.reference


# --- Enrolment ------------------------------------------------------------------------------------


def enrolment_path(page: str) -> str:
    """The path and query of the one-time link on an administrator's "account created" or reset page."""
    match = ENROLMENT_LINK_RE.search(page)
    assert match, "no enrolment link on the page"
    url = html.unescape(match.group(1))
    return url[url.index("/enrol") :]


def link_token(page: str) -> str:
    """The token of the one-time link on an administrator's "account created" or reset page."""
    return enrolment_path(page).split("token=", 1)[1]


def invite(admin_client: FlaskClient, email: str, role: str = "admin") -> tuple[str, str]:
    """A new account ("Nia New") invited from an administrator's browser: the page with its link, and the link's
    token."""
    sent = post_form(admin_client, "/admin/invite", name="Nia New", email=email, role=role)
    page = admin_client.get(sent.headers["Location"]).get_data(as_text=True)
    return page, link_token(page)


def link_refused(app: Flask, token: str) -> bool:
    """Whether the service refuses to open the enrolment link with this token, asked as the link's page asks."""
    with app.test_request_context():
        try:
            enrolment.open_link(token)
        except enrolment.LinkUnusable:
            return True
    return False


def enrolment_code(secret: bytes) -> str:
    """The security code to finish enrolling with in this process's app: the previous step's (accepted as clock
    drift), so the sign-ins that follow can use this step and the next. Never taken in a step's last seconds: a step
    passing before the server checks it would leave the code two steps old, and refused. So in those seconds the
    service's clock is set on to the next step's start rather than waited for (the test ends on the real time).
    A server in another process keeps its own clock: support/servers.py's enrolment_code_waiting() is for it."""
    into_step = clock.timestamp() % totp.TOTP_STEP
    if into_step > totp.TOTP_STEP - 5:
        clock.advance(timedelta(seconds=totp.TOTP_STEP - into_step + 0.1))
    return totp.totp_now(secret, clock.timestamp() - totp.TOTP_STEP)


@dataclass
class Enrolled:
    staff: Staff
    safety_code: str | None

    @property
    def safety_code_shown(self) -> str:
        """The safety code the end of enrolling showed (a guardian's, which other guardians type to approve them)."""
        return present(self.safety_code, "safety code shown at the end of enrolling")


def safety_code_of(user: User) -> str:
    """The safety code of the keys stored for an account (``roster.safety_code_of``), which must have keys."""
    from speakup.keys import roster

    return present(roster.safety_code_of(user), f"keys stored for user {user.id}")


def enrol(app: Flask, admin_page: str, password: str = PASSWORD) -> Enrolled:
    """Follows the enrolment link from ``admin_page`` in a fresh browser, as its owner: chooses the password,
    sets up the security code from the page's text secret, and reads the safety code shown at the end."""
    client = app.test_client()
    path = enrolment_path(admin_page)
    page = client.get(path).get_data(as_text=True)
    secret_text = TOTP_SECRET_RE.search(page)
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)["token"][0]
    form = {"token": token, "password": password, "confirm": password}
    totp_secret = None
    if secret_text:
        totp_secret = base64.b32decode(secret_text.group(1) + "=" * (-len(secret_text.group(1)) % 8))
        form.update(totp_secret=secret_text.group(1), security_code=enrolment_code(totp_secret))
    sent = post_form(client, path, "/enrol", **form)
    assert sent.status_code == 303, sent.status_code
    done = client.get(sent.headers["Location"])
    body = done.get_data(as_text=True)
    assert done.status_code == 200, "the page after enrolling did not open"
    with app.app_context():
        user = scalar(db.select(User).where(User.email == _email_on(page)))
        staff = Staff(user.id, user.email, password, totp_secret)
    code = SAFETY_CODE_RE.search(body)
    return Enrolled(staff, code.group(1) if code else None)


def _email_on(enrolment_page: str) -> str:
    match = re.search(r'<span id="enrolment-email">([^<]+)</span>', enrolment_page)
    assert match, "the enrolment page names no account"
    return html.unescape(match.group(1))


# --- Files ----------------------------------------------------------------------------------------


def png_bomb(width: int = 7000, height: int = 7000) -> bytes:
    """A small PNG whose header says width x height RGBA: zeros compress about a thousand to one."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + width * 4)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


PHONE_MODEL = "Pocketphone 12 Pro"


def phone_photo() -> bytes:
    """A 12-megapixel photo with texture (as a phone's is) and the phone's EXIF, GPS included."""
    noise = Image.effect_noise((4000, 3000), 12)
    gradient = Image.linear_gradient("L").resize((4000, 3000))
    image = Image.merge("RGB", (gradient, noise, Image.blend(gradient, noise, 0.5)))
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x0110] = PHONE_MODEL  # Model
    exif.get_ifd(0x8825)[0x0001] = "N"  # a GPS latitude reference
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def case_row(app: Flask, reference: str) -> Case:
    """What the database holds for a case now, detached from the session (for reading its plain columns)."""
    with app.app_context():
        case = scalar(db.select(Case).where(Case.reference == reference))
        db.session.expunge(case)
        return case


def guardians_wrapped_for(app: Flask, reference: str) -> set[int]:
    """The accounts a case's key was wrapped for as guardians (its guardian grants)."""
    with app.app_context():
        case_id = db.session.scalar(db.select(Case.id).where(Case.reference == reference))
        query = db.select(CaseGrant.user_id).where(CaseGrant.case_id == case_id, CaseGrant.recipient == "guardian")
        return set(db.session.scalars(query))


def grant_opens_with(app: Flask, reference: str, private_key: bytes, recipient: str | None = None) -> bool:
    """Whether any of the case's HPKE grants (a guardian's or the recovery key's; only ``recipient``'s if given)
    opens with ``private_key``."""
    from speakup.crypto import kem, sealing

    with app.app_context():
        case_id = db.session.scalar(db.select(Case.id).where(Case.reference == reference))
        for grant in db.session.scalars(db.select(CaseGrant).where(CaseGrant.case_id == case_id)):
            if grant.recipient == "reporter" or (recipient and grant.recipient != recipient):
                continue
            try:
                kem.unwrap_case_key(grant.wrapped_key, private_key, case_id)
                return True
            except sealing.DecryptionError:
                continue
    return False


@contextmanager
def without_the_pepper(app: Flask) -> Iterator[None]:
    """The same database, opened by someone without the environment file: the service's code, any other pepper."""
    real = app.config["TOKEN_PEPPER_BYTES"]
    app.config["TOKEN_PEPPER_BYTES"] = b"a thief's guess at the pepper"
    try:
        with app.app_context():
            yield
    finally:
        app.config["TOKEN_PEPPER_BYTES"] = real


def as_if_raised_last_quarter(app: Flask) -> None:
    """Every case moved to the tenth day of the last quarter that has ended, as if raised then: the board counts only
    quarters that have ended (reporting/board.py)."""
    raised = datetime.combine(quarters.previous_quarter(clock.uk_today()).start + timedelta(days=9), time(12))
    with app.app_context():
        for case in db.session.scalars(db.select(Case)):
            case.created_at = raised
        db.session.commit()


def gen_quarter(app: Flask, client: FlaskClient, count: int, *, anonymous: int = 0, ack_after_days: float = 3) -> None:
    """``count`` concerns raised in the last quarter that has ended (the newest the board counts), the first
    ``anonymous`` of them anonymously and the rest openly, every one about patient safety and acknowledged
    ``ack_after_days`` after it came."""
    references = [gen_concern(client)["reference"] for _ in range(count)]
    as_if_raised_last_quarter(app)
    with app.app_context():
        for n, reference in enumerate(references):
            case = scalar(db.select(Case).where(Case.reference == reference))
            case.anonymity = "anonymous" if n < anonymous else "open"
            case.acknowledged_at = case.created_at + timedelta(days=ack_after_days)
            db.session.add(CaseTheme(case_id=case.id, theme="patient_safety"))
        db.session.commit()
