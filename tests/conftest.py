"""Test fixtures. Every test that uses ``app`` runs on SQLite and, when SPEAKUP_TEST_DATABASE_URL is
set (as .ci/run does), again on PostgreSQL. The schema is built by the real Alembic migrations."""

from __future__ import annotations

import base64
import html
import io
import os
import re
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import create_engine, text

from speakup import create_app, crypto, keyring, roster
from speakup.accounts import create_user
from speakup.models import User, db
from speakup.schema import upgrade_schema

POSTGRES_URL = os.environ.get("SPEAKUP_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])

TEST_CONFIG = {
    "ENVIRONMENT": "testing",
    "SECRET_KEY": "test-secret-key-not-for-production",
    "TOKEN_PEPPER": "test-pepper-not-for-production",
    "ARGON2_MEMORY_KIB": 64,
    "ARGON2_ITERATIONS": 1,
    "RATELIMIT_STORAGE_URI": "memory://",
    "REQUIRE_MFA": True,
    "SQLALCHEMY_ENGINE_OPTIONS": {},
    "MAIL_IN_BACKGROUND": False,
}

_migrated: set[str] = set()


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _empty_tables() -> None:
    # Children first, so foreign keys never object.
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "speakup-test.sqlite")


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    return sqlite_url if request.param == "sqlite" else POSTGRES_URL  # type: ignore[return-value]


def make_app(database_url: str, **overrides: object) -> Flask:
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url, **overrides})
    with app.app_context():
        if database_url not in _migrated:
            if database_url.startswith("postgresql"):
                _reset_postgres(database_url)
            upgrade_schema()
            _migrated.add(database_url)
        _empty_tables()
    return app


@pytest.fixture
def app_overrides() -> dict[str, object]:
    """Override in a test module (or with indirect parametrisation) to change settings."""
    return {}


def install_organisation_keys(app: Flask) -> None:
    """What `speakup init` makes: the recovery and roster keys, their private halves kept for the tests."""
    with app.app_context():
        _row, private_key = keyring.create_recovery_key()
        roster_row, signing_key = keyring.create_roster_key()
        db.session.commit()
        # Pinned as production pins it, so every test runs the real check of the roster's root.
        app.config["ROSTER_ROOT"] = crypto.roster_fingerprint(roster_row.public_key)
    app.config["TEST_RECOVERY_PRIVATE_KEY"] = private_key
    app.config["TEST_ROSTER_SIGNING_KEY"] = signing_key


@pytest.fixture
def app(database_url: str, app_overrides: dict[str, object]) -> Iterator[Flask]:
    app = make_app(database_url, **app_overrides)
    install_organisation_keys(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


# --- Factories -----------------------------------------------------------------------------

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
        # so successive sign-ins in one test use the next step, which the server accepts as drift.
        code = crypto.totp_now(self.totp_secret, time.time() + 30 * self.steps_used) if self.totp_secret else ""
        self.steps_used += 1
        return code


def organisation_secrets(app: Flask) -> keyring.OrganisationSecrets:
    """What the test installation's offline recovery key file holds."""
    return keyring.OrganisationSecrets(app.config["TEST_RECOVERY_PRIVATE_KEY"], app.config["TEST_ROSTER_SIGNING_KEY"])


def gen_staff(
    app: Flask,
    email: str = "guardian@example.org",
    role: str = "guardian",
    name: str = "Gita Guardian",
    approved: bool = True,
) -> Staff:
    """A staff account. A guardian is approved with the organisation key unless ``approved`` is False."""
    with app.app_context():
        account = create_user(email, name, role, PASSWORD)
        if role == "guardian" and approved:
            roster.approve_with_organisation_key(account.user, organisation_secrets(app), None)
            db.session.commit()
        return Staff(account.user.id, email, PASSWORD, account.totp_secret)


def gen_concern(client: FlaskClient, **fields: object) -> dict:
    body = {"what_happened": "The night shift was left unsafe.", "anonymity": "anonymous", **fields}
    response = client.post("/api/v1/concerns", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


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


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def guardian(app: Flask) -> Staff:
    return gen_staff(app)


# --- Enrolment ------------------------------------------------------------------------------------

ENROLMENT_LINK_RE = re.compile(r'<code id="enrolment-link">([^<]+)</code>')
TOTP_SECRET_RE = re.compile(r'<code id="totp-secret"[^>]*>([^<]+)</code>')
SAFETY_CODE_RE = re.compile(r'<span id="safety-code">([0-9 ]+)</span>')


def enrolment_path(page: str) -> str:
    """The path and query of the one-time link on an administrator's "account created" or reset page."""
    match = ENROLMENT_LINK_RE.search(page)
    assert match, "no enrolment link on the page"
    url = html.unescape(match.group(1))
    return url[url.index("/enrol") :]


@dataclass
class Enrolled:
    staff: Staff
    safety_code: str | None


def enrol(app: Flask, admin_page: str, password: str = PASSWORD) -> Enrolled:
    """Follows the enrolment link from ``admin_page`` in a fresh browser, as its owner: chooses the password,
    sets up the security code from the page's text secret, and reads the safety code shown at the end."""
    client = app.test_client()
    path = enrolment_path(admin_page)
    page = client.get(path).get_data(as_text=True)
    secret_text = TOTP_SECRET_RE.search(page)
    totp_secret = None
    if secret_text:
        totp_secret = base64.b32decode(secret_text.group(1) + "=" * (-len(secret_text.group(1)) % 8))
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)["token"][0]
    form = {"token": token, "password": password, "confirm": password}
    if totp_secret is not None:
        # The previous step's code (accepted as clock drift), so the next sign-ins can use this step and the next.
        form.update(totp_secret=secret_text.group(1), security_code=crypto.totp_now(totp_secret, time.time() - 30))
    done = post_form(client, path, "/enrol", **form)
    body = done.get_data(as_text=True)
    assert done.status_code == 200, body
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == _email_on(page)))
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
