"""The test app: settings, a migrated database (SQLite, and PostgreSQL when SPEAKUP_TEST_DATABASE_URL is set)
emptied for each test, and the organisation keys `speakup init` would make. A worker makes one app and reuses it,
put back as it was, from test to test (app_for_test)."""

from __future__ import annotations

import atexit
import copy
import functools
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass

from flask import Flask
from jinja2.bccache import Bucket, BytecodeCache

from speakup import create_app
from speakup.crypto import kem, signing
from speakup.crypto.sealing import PROTOCOL
from speakup.keys import recovery, roster_log
from speakup.platform.extensions import limiter
from speakup.platform.migrations import upgrade_schema
from speakup.platform.models import OrganisationKey, db
from support import processes

SUITE_POSTGRES_URL = os.environ.get("SPEAKUP_TEST_DATABASE_URL")
# Under pytest-xdist (make test-fast) each worker has a PostgreSQL database of its own beside the suite's.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
POSTGRES_URL = f"{SUITE_POSTGRES_URL}_{_WORKER}" if SUITE_POSTGRES_URL and _WORKER else SUITE_POSTGRES_URL
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
    "MAIL_DELAY_SECONDS": 0,
}

_migrated: set[str] = set()


class SharedTemplates(BytecodeCache):
    """Compiled templates kept for the whole test run, for the apps made beside the shared one (other settings,
    tests that make their own): compiling the same templates again for each is slow. Keyed by name and source
    checksum (Jinja's public bytecode cache)."""

    def __init__(self) -> None:
        self._compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self._compiled:
            bucket.bytecode_from_string(self._compiled[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._compiled[bucket.key] = bucket.bytecode_to_string()


TEMPLATES = SharedTemplates()


def _empty_tables() -> None:
    # Children first, so foreign keys never object.
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()


def make_app(database_url: str, **overrides: object) -> Flask:
    """A new app on a migrated, empty database."""
    settings = {**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url}
    settings["ROSTER_ANCHOR_FILE"] = _new_anchor_file()
    app = create_app({**settings, **overrides})
    app.jinja_env.bytecode_cache = TEMPLATES
    with app.app_context():
        if database_url not in _migrated:
            if database_url.startswith("postgresql"):
                processes.empty_postgres_database(SUITE_POSTGRES_URL or database_url, database_url.rpartition("/")[2])
            upgrade_schema()
            _migrated.add(database_url)
        _empty_tables()
    return app


def _new_anchor_file() -> str:
    # Each test's installation anchors its roster log in a file of its own, as a server's instance folder holds one.
    return os.path.join(tempfile.mkdtemp(prefix="anchor-", dir=scratch_folder()), "roster-anchor.json")


@functools.cache
def scratch_folder() -> str:
    """A folder of this test process's own for the suite's SQLite database and the anchor files, removed when the
    process ends: in memory (/dev/shm) where there is one. SQLite still syncs every commit (speakup/platform/
    sqlite.py), which on a busy disk was a third of the web tests' time; in memory a sync costs nothing."""
    memory = "/dev/shm"  # noqa: S108 (a folder of our own inside it, made by mkdtemp)
    base = memory if os.path.isdir(memory) and os.access(memory, os.W_OK) else None
    folder = tempfile.mkdtemp(prefix="speakup-tests-", dir=base)
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def install_organisation_keys(app: Flask, keys: OrganisationKeys | None = None) -> None:
    """What `speakup init` makes: the recovery and roster keys, their private halves kept for the tests. New keys
    unless ``keys`` (made once for a worker's shared app, see app_for_test) are given."""
    with app.app_context():
        if keys is None:
            recovery_row, private_key = recovery.create_recovery_key()
            roster_row, signing_key = recovery.create_roster_key()
        else:
            private_key, signing_key = keys.recovery_private, keys.roster_signing
            recovery_row = OrganisationKey(purpose="recovery", public_key=keys.recovery_public, protocol=PROTOCOL)
            roster_row = OrganisationKey(purpose="roster", public_key=keys.roster_public, protocol=PROTOCOL)
            db.session.add_all([recovery_row, roster_row])
        roster_log.checkpoint(signing_key, recovery_row.public_key, [])
        db.session.commit()
        # Pinned as production pins it, so every test runs the real check of the roster's root.
        app.config["ROSTER_ROOT"] = signing.roster_fingerprint(roster_row.public_key)
    app.config["TEST_RECOVERY_PRIVATE_KEY"] = private_key
    app.config["TEST_ROSTER_SIGNING_KEY"] = signing_key


@dataclass(frozen=True)
class OrganisationKeys:
    recovery_public: bytes
    recovery_private: bytes
    roster_public: bytes
    roster_signing: bytes


@functools.cache
def _worker_keys() -> OrganisationKeys:
    """The organisation keys of a worker's shared app: made once, as generating them for each test would cost."""
    recovery_keys, roster_keys = kem.generate_keypair(), signing.generate_signing_keypair()
    return OrganisationKeys(
        recovery_keys.public_bytes, recovery_keys.private_bytes, roster_keys.public_bytes, roster_keys.private_bytes
    )


def _limit_store() -> object | None:
    """The store the rate limiter counts in: the last app made set it (none if limits were off in every app)."""
    try:
        return limiter.storage
    except AssertionError:
        return None


@dataclass
class _Shared:
    key: tuple[str, str, str]
    app: Flask
    config: dict[str, object]
    extensions: dict[str, object]
    limit_store: object
    log_level: int


_shared: list[_Shared] = []  # this worker's one shared app, if any


def app_for_test(database_url: str, overrides: dict[str, object]) -> Flask:
    """The app for one test, as a new installation: a migrated, empty database with the organisation keys.

    Building a Flask app costs more than most tests (its URL map alone compiles two functions per rule), so a
    worker keeps one app and hands it to test after test with the same settings, put back as it was made: its
    settings and extensions (the roster cache among them), the rate limits counted, the speakup log level, every
    table emptied and a new roster anchor file. Other settings, or a test that changed the limiter's store by
    making an app of its own, get a new app, which is kept in turn. A test that changes the app itself (adds a
    route) is marked ``fresh_app`` and gets one of its own (tests/conftest.py)."""
    # The settings an app is made from: its overrides and the SPEAKUP_* environment (a test may set some).
    environment = sorted((name, value) for name, value in os.environ.items() if name.startswith("SPEAKUP_"))
    key = (database_url, repr(sorted(overrides.items())), repr(environment))
    shared = _shared[0] if _shared else None
    if shared is None or shared.key != key or _limit_store() is not shared.limit_store:
        app = make_app(database_url, **overrides)
        # Copied deeply, so a test that changes a list or dict setting in place changes only its own copy.
        config, extensions = copy.deepcopy(dict(app.config)), dict(app.extensions)
        shared = _Shared(key, app, config, extensions, _limit_store(), logging.getLogger("speakup").level)
        _shared[:] = [shared]
    else:
        app = shared.app
        app.config.clear()
        app.config.update(copy.deepcopy(shared.config))
        app.config["ROSTER_ANCHOR_FILE"] = _new_anchor_file()
        app.extensions.clear()
        app.extensions.update(shared.extensions)
        logging.getLogger("speakup").setLevel(shared.log_level)
        with app.app_context():
            if _limit_store() is not None:
                limiter.reset()
            _empty_tables()
    install_organisation_keys(app, _worker_keys())
    return app
