"""Test fixtures. Every test that uses ``app`` runs on SQLite and, when SPEAKUP_TEST_DATABASE_URL is
set (as .ci/run does), again on PostgreSQL. The schema is built by the real Alembic migrations."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from speakup import create_app, crypto, keyring
from speakup.accounts import create_user
from speakup.models import db
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


@pytest.fixture
def app(database_url: str, app_overrides: dict[str, object]) -> Iterator[Flask]:
    app = make_app(database_url, **app_overrides)
    with app.app_context():
        _row, private_key = keyring.create_recovery_key()
        db.session.commit()
    app.config["TEST_RECOVERY_PRIVATE_KEY"] = private_key
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


def gen_staff(
    app: Flask, email: str = "guardian@example.org", role: str = "guardian", name: str = "Gita Guardian"
) -> Staff:
    with app.app_context():
        account = create_user(email, name, role, PASSWORD)
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
