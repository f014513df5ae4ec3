"""Settings: speakup/defaults.py, then SPEAKUP_* environment variables, then overrides, checked and completed here.

Production refuses to start without its secrets or with a roster root that does not match the database."""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

from speakup.crypto import signing
from speakup.defaults import ORGANISATION_NAME as PLACEHOLDER_ORGANISATION_NAME
from speakup.domain import deadlines
from speakup.platform import languages, private_files, public_urls
from speakup.platform.config import delay_range
from speakup.platform.models import KeyPurpose, db
from speakup.platform.sqlite import JOURNAL_MODES

ROOT = Path(__file__).resolve().parent.parent


class ConfigurationError(RuntimeError):
    """The app cannot start safely with this configuration; the message says what is missing."""


def finish_config(app: Flask) -> None:
    """Check and complete the settings. Under a command (`flask speakup ...`, `speakup ...`, `flask run`) a refusal is
    one line naming what to set, with click's exit status 2, rather than a traceback (speakup/cli/__init__.py)."""
    try:
        _check_and_complete(app)
    except ConfigurationError as refused:
        import click

        if click.get_current_context(silent=True) is None:
            raise  # gunicorn, tests and scripts: the exception itself
        from speakup.cli import settings_refused

        raise settings_refused(str(refused), app.config) from None


def _check_and_complete(app: Flask) -> None:
    config = app.config
    environment = config["ENVIRONMENT"]
    if environment not in ("production", "development", "testing"):
        raise ConfigurationError("SPEAKUP_ENVIRONMENT must be production, development or testing")
    if environment == "development":
        _development_secrets(app)
    missing = [key for key in ("SECRET_KEY", "TOKEN_PEPPER") if not config.get(key)]
    if missing:
        names = " and ".join(f"SPEAKUP_{key}" for key in missing)
        raise ConfigurationError(
            f"{names} must be set in production (long random values, for example from "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
        )
    _check_secret_key_fallbacks(config.get("SECRET_KEY_FALLBACKS"), environment)
    if config["DEADLINE_RULES"] not in deadlines.RULES or str(config["SCOTLAND_STAGE"]) not in ("1", "2"):
        raise ConfigurationError(
            "SPEAKUP_DEADLINE_RULES must be england, eu, scotland or wales, and SPEAKUP_SCOTLAND_STAGE 1 or 2"
        )
    config["SQLITE_JOURNAL_MODE"] = str(config["SQLITE_JOURNAL_MODE"]).lower()
    if config["SQLITE_JOURNAL_MODE"] not in JOURNAL_MODES:
        raise ConfigurationError(f"SPEAKUP_SQLITE_JOURNAL_MODE must be one of {', '.join(JOURNAL_MODES)}")
    try:
        delay_range(config["MAIL_DELAY_SECONDS"])
    except ValueError:
        raise ConfigurationError(
            'SPEAKUP_MAIL_DELAY_SECONDS must be a range of seconds such as "60-600", or one number'
        ) from None
    config["TOKEN_PEPPER_BYTES"] = _pepper_bytes(config["TOKEN_PEPPER"])
    config["TOKEN_PEPPER_FALLBACK_BYTES"] = _pepper_fallbacks(config)
    if environment != "production":
        config["SESSION_COOKIE_SECURE"] = False  # development and tests run over plain http
    config["ROSTER_ANCHOR_FILE"] = config.get("ROSTER_ANCHOR_FILE") or os.path.join(
        app.instance_path, "roster-anchor.json"
    )
    if not config.get("SQLALCHEMY_DATABASE_URI"):
        os.makedirs(app.instance_path, exist_ok=True)
        config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.instance_path, "speakup.sqlite")
    config["SQLALCHEMY_ENGINE_OPTIONS"] = _engine_options(config)
    config["RATELIMIT_STORAGE_URI"] = config.get("RATELIMIT_STORAGE_URI") or "memory://"
    config["RATELIMIT_STORAGE_OPTIONS"] = _rate_limit_storage_options(config)
    _check_external_routes(config["EXTERNAL_ROUTES"])
    _check_exit_page(config["EXIT_PAGE_URL"], environment)
    _check_public_address(config, environment)
    _check_languages(app)
    for setting, key in TRUST_TEXTS.items():
        config[key] = _trust_text(app, setting) if config.get(setting) else None


def _pepper_bytes(pepper: object) -> bytes:
    return pepper if isinstance(pepper, bytes) else str(pepper).encode()


def _pepper_fallbacks(config: Any) -> tuple[bytes, ...]:
    """The peppers SPEAKUP_TOKEN_PEPPER replaced, newest first (a JSON list), still accepted for what was made under
    them: access codes, tokens, links, the audit chain's older rows (docs/deploy.md, "Rotating the pepper")."""
    fallbacks = config.get("TOKEN_PEPPER_FALLBACKS") or []
    if isinstance(fallbacks, str):
        try:
            fallbacks = json.loads(fallbacks)
        except ValueError:
            fallbacks = None
    if not isinstance(fallbacks, list | tuple) or not all(isinstance(f, str | bytes) and f for f in fallbacks):
        raise ConfigurationError("SPEAKUP_TOKEN_PEPPER_FALLBACKS must be a JSON list of the old peppers, newest first")
    peppers = tuple(_pepper_bytes(fallback) for fallback in fallbacks)
    if config["TOKEN_PEPPER_BYTES"] in peppers or len(set(peppers)) != len(peppers):
        raise ConfigurationError("SPEAKUP_TOKEN_PEPPER_FALLBACKS must not repeat a pepper, nor hold the current one")
    return peppers


EXTERNAL_ROUTE_KEYS = {"name", "about", "web", "contact"}


STRONG_SECRET_CHARS = 32  # `secrets.token_urlsafe(48)`, as the guide and the commands make them, is 64


def _check_secret_key_fallbacks(fallbacks: object, environment: str) -> None:
    """SECRET_KEY_FALLBACKS is a JSON list of keys, as `speakup rotate-secret-key` prints it. Anything else is
    refused: a line pasted without its brackets reached Flask as a string and was taken letter by letter, so a
    cookie signed with the one-letter key "Z" was accepted (outside review of issue 27). In production each key is
    also long: an old key is as able to sign a session as the current one. Never echoes a key."""
    strong = STRONG_SECRET_CHARS if environment == "production" else 1
    if not isinstance(fallbacks, list) or not all(isinstance(k, str) and len(k) >= strong for k in fallbacks):
        raise ConfigurationError(
            "SPEAKUP_SECRET_KEY_FALLBACKS must be a JSON list of the keys SECRET_KEY replaced, each as long as "
            'the key itself, for example ["old-key"], as `speakup rotate-secret-key` prints it'
        )


def _check_languages(app: Flask) -> None:
    """Completes ``LANGUAGES_OFFERED`` (speakup/platform/languages.py), or refuses the settings, naming them."""
    config = app.config
    folders = [Path(app.root_path) / folder for folder in str(config["BABEL_TRANSLATION_DIRECTORIES"]).split(";")]
    default = languages.default_code(config["LANGUAGES"], config["DEFAULT_LANGUAGE"], config["DEADLINE_RULES"])
    config["DEFAULT_LANGUAGE"] = default
    try:
        config["LANGUAGES_OFFERED"] = languages.offered(config["LANGUAGES"], default, folders)
    except ValueError as refused:
        raise ConfigurationError(f"SPEAKUP_LANGUAGES: {refused}") from None


def _check_public_address(config: Any, environment: str) -> None:
    if environment == "production" and public_urls.development_address_behind_proxy(config):
        raise ConfigurationError(public_urls.BEHIND_PROXY_ERROR)


def _check_exit_page(url: object, environment: str) -> None:
    """ "Exit this page" leaves for another site's address: an https:// one (plain http:// only outside production,
    for a test's own page)."""
    schemes = ("https://",) if environment == "production" else ("https://", "http://")
    if not isinstance(url, str) or not url.startswith(schemes) or len(url) <= len("https://") or " " in url:
        raise ConfigurationError(f"SPEAKUP_EXIT_PAGE_URL must be a web address starting https:// ({url!r})")


def _check_external_routes(routes: object) -> None:
    """The bodies outside the trust (/other-ways): each a name, and optional words, an https:// web address (a link
    on the page, so never javascript: or another scheme) and contact details. Refused at start-up, not on the page."""
    problem = "SPEAKUP_EXTERNAL_ROUTES must be a list of {name, about, web, contact}"
    if not isinstance(routes, list | tuple):
        raise ConfigurationError(f"{problem} (JSON)")
    for route in routes:
        if not isinstance(route, dict) or set(route) - EXTERNAL_ROUTE_KEYS or not route.get("name"):
            raise ConfigurationError(f"{problem}, each with a name: {route!r}")
        if not all(isinstance(value, str) for value in route.values()):
            raise ConfigurationError(f"{problem}, each a text: {route!r}")
        if route.get("web") and not route["web"].startswith("https://"):
            raise ConfigurationError(f"{problem}: the web address must start https:// ({route['web']!r})")


# A trust's own words for a page, from a plain-text file: the setting naming the file, and the key its paragraphs
# are kept under (None: the page's shipped words).
TRUST_TEXTS = {"ACCESSIBILITY_STATEMENT_FILE": "ACCESSIBILITY_STATEMENT", "PRIVACY_NOTICE_FILE": "PRIVACY_NOTICE"}


def _trust_text(app: Flask, setting: str) -> tuple[str, ...]:
    """The paragraphs of the file a setting names (blank lines between them; the lines of one are joined), read
    once at start-up so a missing or unreadable file stops the service rather than a page. Shown as text."""
    path = Path(app.instance_path) / str(app.config[setting])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as failed:
        raise ConfigurationError(f"SPEAKUP_{setting}: {path} cannot be read as UTF-8 text ({failed})") from None
    paragraphs = tuple(" ".join(block.split()) for block in re.split(r"\n\s*\n", text) if block.strip())
    if not paragraphs:
        raise ConfigurationError(f"SPEAKUP_{setting}: {path} is empty")
    return paragraphs


ROSTER_ROOT_HELP = (
    "Run `flask --app wsgi speakup init --recovery-key-file PATH` on a new installation (it prints roster-root), or "
    "`flask --app wsgi speakup roster upgrade` on one from before signed rosters (README, 'The guardian roster')"
)


def warn_about_placeholders(app: Flask) -> None:
    """A production service still called "Your NHS trust" starts (nothing is unsafe), but every page's header,
    footer and title would say so to the staff it is for: one warning line at start-up tells the operator."""
    name = str(app.config.get("ORGANISATION_NAME") or "").strip()
    if name == PLACEHOLDER_ORGANISATION_NAME:
        app.logger.warning(
            "ORGANISATION_NAME is still the default %r: set SPEAKUP_ORGANISATION_NAME", PLACEHOLDER_ORGANISATION_NAME
        )
    elif not name:
        app.logger.warning("ORGANISATION_NAME is empty: set SPEAKUP_ORGANISATION_NAME")


def report_unready_settings(app: Flask) -> None:
    """Settings a production service starts with but works badly under, each an ERROR line an operator's alerting
    catches: enrolment links and emails would point at a development address, or no guardian would be told of
    anything."""
    from speakup.platform import public_urls

    with app.app_context():
        https = public_urls.is_https()
    if not https:
        app.logger.error(public_urls.NOT_HTTPS_ERROR)
    if not app.config.get("MAIL_SERVER"):
        app.logger.error("MAIL_SERVER is not set: no guardian is emailed about a new concern or reply")
    if len(str(app.config.get("SECRET_KEY") or "")) < STRONG_SECRET_CHARS:
        app.logger.error("SECRET_KEY is short: a guessable key signs sessions; rotate it (speakup rotate-secret-key)")
    if len(str(app.config.get("TOKEN_PEPPER") or "")) < STRONG_SECRET_CHARS:
        app.logger.error("TOKEN_PEPPER is short: rotate it as docs/deploy.md says (never by hand)")


def check_schema(app: Flask) -> None:
    """Production serves only a database at the newest migration: one behind answers every raise with "we could
    not save your concern". A database that cannot be reached yet is reported by /healthz instead."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from speakup.platform.migrations import newest_revision

    with app.app_context():
        try:
            revision = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except SQLAlchemyError:
            db.session.rollback()
            app.logger.warning("Schema not checked at start-up: the database did not answer")
            return
        finally:
            db.session.remove()
    if revision != newest_revision():
        raise ConfigurationError(
            f"The database's schema is at migration {revision}, not {newest_revision()}: run "
            "`flask --app wsgi speakup init --recovery-key-file PATH` (docs/deploy.md, section 12)"
        )


AUDIT_PEPPER_HELP = (
    "The audit chain's newest event is not hashed under SPEAKUP_TOKEN_PEPPER. After `speakup rotate-pepper`, put "
    "both lines of the file it wrote (SPEAKUP_TOKEN_PEPPER and SPEAKUP_TOKEN_PEPPER_FALLBACKS) in the environment "
    "file; otherwise run `flask --app wsgi speakup audit verify` (docs/deploy.md, 'Rotating the pepper')"
)


def check_audit_pepper(app: Flask) -> None:
    """Production serves only with the pepper the audit chain's newest row is under, and with every pepper a
    rotation replaced among the fallbacks: an environment file still holding the pepper `speakup rotate-pepper`
    replaced, or missing its fallbacks line, fails here, loudly, rather than writing rows nobody can verify and
    finding none of the access codes given before. A database that cannot be reached yet is reported by /healthz
    instead."""
    from sqlalchemy.exc import SQLAlchemyError

    from speakup.ops.audit_chain import missing_peppers, newest_is_current

    with app.app_context():
        try:
            current, missing = newest_is_current(), missing_peppers()
        except SQLAlchemyError:
            db.session.rollback()
            app.logger.warning("Audit pepper not checked at start-up: the database did not answer")
            return
        finally:
            db.session.remove()
    if not current:
        raise ConfigurationError(AUDIT_PEPPER_HELP)
    if missing:
        raise ConfigurationError(
            f"SPEAKUP_TOKEN_PEPPER_FALLBACKS does not hold the pepper {', '.join(missing)} that "
            "`speakup rotate-pepper` replaced: access codes, tokens and links from before the rotation would not be "
            "found, nor the audit chain verified. Put back the SPEAKUP_TOKEN_PEPPER_FALLBACKS line the rotation "
            "wrote (docs/deploy.md, 'Rotating the pepper')"
        )


def check_roster_root(app: Flask) -> None:
    """Production serves only with SPEAKUP_ROSTER_ROOT pinning the organisation signing key: without it nobody
    could tell a forged guardian from a real one. A database that cannot be reached yet is checked later, by every
    roster verification (speakup/keys/roster.py), which trusts nothing the pin does not match."""
    pinned = app.config.get("ROSTER_ROOT")
    if not pinned:
        raise ConfigurationError(f"SPEAKUP_ROSTER_ROOT must be set in production. {ROSTER_ROOT_HELP}.")
    if len(signing.normalise_fingerprint(str(pinned))) != 64:
        raise ConfigurationError("SPEAKUP_ROSTER_ROOT is not a roster-root fingerprint (64 hexadecimal digits)")
    from sqlalchemy.exc import SQLAlchemyError

    from speakup.keys.organisation_key import pin_leads_to
    from speakup.keys.recovery import organisation_public_key

    with app.app_context():
        try:
            stored = organisation_public_key(KeyPurpose.ROSTER)
            # Rotated, and the pin not changed yet: the roster follows the hand-over, and logs that it must change.
            handed_over = stored is not None and pin_leads_to(str(pinned), stored)
        except SQLAlchemyError:
            db.session.rollback()
            app.logger.warning("Roster root not checked at start-up: the database did not answer")
            return
        finally:
            db.session.remove()
    if stored is None:
        raise ConfigurationError(f"This database has no organisation signing key. {ROSTER_ROOT_HELP}.")
    pinned_is_stored = signing.normalise_fingerprint(str(pinned)) == signing.normalise_fingerprint(
        signing.roster_fingerprint(stored)
    )
    if not pinned_is_stored and not handed_over:
        raise ConfigurationError(
            "SPEAKUP_ROSTER_ROOT does not match this database's organisation signing key: check the value printed by "
            "`speakup init` (roster-root) and that this is the right database"
        )


def _engine_options(config: Any) -> dict[str, Any]:
    """Bounds every wait on the database by DATABASE_CONNECT_TIMEOUT (and statements by
    DATABASE_STATEMENT_TIMEOUT), so a stopped or unreachable database answers 503 instead of hanging."""
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    uri = config["SQLALCHEMY_DATABASE_URI"]
    timeout = int(config["DATABASE_CONNECT_TIMEOUT"])
    connect_args = dict(options.get("connect_args", {}))
    if uri.startswith("postgresql"):
        connect_args.setdefault("connect_timeout", timeout)
        connect_args.setdefault("tcp_user_timeout", timeout * 1000)  # libpq wants milliseconds
        statement_timeout = int(config.get("DATABASE_STATEMENT_TIMEOUT") or 0)
        if statement_timeout > 0:
            connect_args.setdefault("options", f"-c statement_timeout={statement_timeout * 1000}")
        # SQLite's in-memory pools take no pool_timeout; PostgreSQL's queue pool does.
        options.setdefault("pool_timeout", timeout)
    elif uri.startswith("sqlite"):
        connect_args.setdefault("timeout", timeout)
    options["connect_args"] = connect_args
    return options


def _rate_limit_storage_options(config: Any) -> dict[str, Any]:
    """Flask-Limiter's storage options. Storage errors always arrive as ``limits.errors.StorageError``,
    which speakup.platform.extensions turns into fail-closed or fail-open answers; a Redis store gets short
    timeouts and one quick retry (a pooled connection that died with a Redis restart is replaced at
    once) instead of redis-py's ten retries, which could hold a request for a minute on a frozen server."""
    options = dict(config.get("RATELIMIT_STORAGE_OPTIONS") or {})
    # Plain Redis only: Sentinel and Cluster stores take their connection options differently.
    if str(config["RATELIMIT_STORAGE_URI"]).startswith(("redis://", "rediss://", "redis+unix://")):
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        timeout = float(config["RATELIMIT_STORAGE_TIMEOUT"])
        options.setdefault("socket_connect_timeout", timeout)
        options.setdefault("socket_timeout", timeout)
        options.setdefault("retry", Retry(NoBackoff(), 1))
    options["wrap_exceptions"] = True
    return options


def _development_secrets(app: Flask) -> None:
    """Development only: generate secrets once and keep them in instance/ so restarts keep working."""
    path = Path(app.instance_path) / "development-secrets.json"
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text())
    changed = False
    for key in ("SECRET_KEY", "TOKEN_PEPPER"):
        if not app.config.get(key):
            if key not in stored:
                stored[key] = secrets.token_urlsafe(48)
                changed = True
            app.config[key] = stored[key]
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        private_files.replace(path, json.dumps(stored))
