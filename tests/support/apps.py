"""The test app: settings, a migrated database (SQLite, and PostgreSQL when SPEAKUP_TEST_DATABASE_URL is set)
emptied for each test, and the organisation keys `speakup init` would make."""

from __future__ import annotations

import os
import tempfile

from flask import Flask
from jinja2.bccache import Bucket, BytecodeCache
from werkzeug.routing.rules import Rule

from speakup import create_app
from speakup.crypto import signing
from speakup.keys import recovery, roster_log
from speakup.platform.migrations import upgrade_schema
from speakup.platform.models import db
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
    "MAIL_IN_BACKGROUND": False,
}

_migrated: set[str] = set()


class SharedTemplates(BytecodeCache):
    """Compiled templates kept for the whole test run: each test makes a new app, and compiling the same
    templates again for each one was a quarter of the suite's time. Keyed by name and source checksum."""

    def __init__(self) -> None:
        self._compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self._compiled:
            bucket.bytecode_from_string(self._compiled[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._compiled[bucket.key] = bucket.bytecode_to_string()


TEMPLATES = SharedTemplates()


def _share_url_builders() -> None:
    """Werkzeug compiles two Python functions for every URL rule of every new app, and the suite makes a new app
    for each test: 36 ms each time, a sixth of the fast suite. The function depends only on the rule's text, its
    parsed parts and defaults (it takes the rule as its first argument), so one compiled for the same rule is
    reused. Test-only: a served app is made once."""
    compile_builder = Rule._compile_builder
    compiled: dict[tuple, object] = {}

    def shared(rule: Rule, append_unknown: bool = True):
        key = (rule.rule, tuple(rule._trace), repr(sorted((rule.defaults or {}).items())), append_unknown)
        if key not in compiled:
            compiled[key] = compile_builder(rule, append_unknown)
        return compiled[key]

    Rule._compile_builder = shared  # type: ignore[method-assign]


_share_url_builders()


def _empty_tables() -> None:
    # Children first, so foreign keys never object.
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()


# SQLAlchemy keeps the statements it compiled per engine, and each test's app has an engine of its own: one cache per
# database for the whole run, as a served app's one engine has.
_COMPILED: dict[str, dict] = {}


def make_app(database_url: str, **overrides: object) -> Flask:
    options = {"execution_options": {"compiled_cache": _COMPILED.setdefault(database_url, {})}}
    settings = {**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url, "SQLALCHEMY_ENGINE_OPTIONS": options}
    # Each test's installation anchors its roster log in a file of its own, as a server's instance folder holds one.
    settings["ROSTER_ANCHOR_FILE"] = os.path.join(tempfile.mkdtemp(prefix="speakup-anchor-"), "roster-anchor.json")
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


def install_organisation_keys(app: Flask) -> None:
    """What `speakup init` makes: the recovery and roster keys, their private halves kept for the tests."""
    with app.app_context():
        recovery_row, private_key = recovery.create_recovery_key()
        roster_row, signing_key = recovery.create_roster_key()
        roster_log.checkpoint(signing_key, recovery_row.public_key, [])
        db.session.commit()
        # Pinned as production pins it, so every test runs the real check of the roster's root.
        app.config["ROSTER_ROOT"] = signing.roster_fingerprint(roster_row.public_key)
    app.config["TEST_RECOVERY_PRIVATE_KEY"] = private_key
    app.config["TEST_ROSTER_SIGNING_KEY"] = signing_key
