"""Test fixtures. Every test that uses ``app`` runs on SQLite and, when SPEAKUP_TEST_DATABASE_URL is
set (as .ci/run does), again on PostgreSQL. The schema is built by the real Alembic migrations.

What tests share besides fixtures lives in tests/support/; no test module imports another."""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import ModuleType

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import settings
from support import processes
from support.apps import BACKENDS, POSTGRES_URL, app_for_test, install_organisation_keys, make_app, scratch_folder
from support.factories import Staff, gen_admin, gen_staff
from support.html import AuthActions, signed_in

from speakup.platform import clock
from speakup.platform.models import db

# Hypothesis's per-example deadline is a timed test: on a loaded machine it fails for speed, not for behaviour
# (speed is the benchmark's business), so it is off.
settings.register_profile("speakup", deadline=None)
settings.load_profile("speakup")


@pytest.fixture(autouse=True)
def _real_time_after_each_test() -> Iterator[None]:
    """Whatever a test set the service's clock to (platform/clock.py), the next starts on the real time."""
    yield
    clock.reset()


@pytest.fixture
def frozen_clock() -> ModuleType:
    """The service's clock, stopped at the moment the test starts: move it with ``freeze()`` or ``advance()``."""
    clock.freeze(clock.utcnow())
    return clock


@pytest.fixture(scope="session")
def sqlite_url() -> str:
    return "sqlite:///" + os.path.join(scratch_folder(), "speakup-test.sqlite")


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    return sqlite_url if request.param == "sqlite" else POSTGRES_URL  # type: ignore[return-value]


@pytest.fixture
def app_overrides(request: pytest.FixtureRequest) -> dict[str, object]:
    """Override in a test module, or parametrise it indirectly, to change settings."""
    return getattr(request, "param", {})


@pytest.fixture
def app(request: pytest.FixtureRequest, database_url: str, app_overrides: dict[str, object]) -> Iterator[Flask]:
    """A new installation for each test: the worker's shared app, put back as it was made (support/apps.py), or
    for a test marked fresh_app, an app of its own."""
    if request.node.get_closest_marker("fresh_app"):
        app = make_app(database_url, **app_overrides)
        install_organisation_keys(app)
    else:
        app = app_for_test(database_url, app_overrides)
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


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def guardian(app: Flask) -> Staff:
    return gen_staff(app)


@pytest.fixture
def signed(client: FlaskClient, auth: AuthActions, guardian: Staff) -> FlaskClient:
    """The guardian's browser (``client``), signed in. Concerns raised after this still reach them."""
    return auth.signed_in(guardian)


@pytest.fixture
def admin(app: Flask) -> Staff:
    return gen_admin(app)


@pytest.fixture
def admin_client(app: Flask, admin: Staff) -> FlaskClient:
    """The administrator's browser (one of its own, not ``client``), signed in."""
    return signed_in(app, admin)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A test run leaves no database behind (issue 27, point 7): each process drops those it made."""
    processes.drop_made_databases()
