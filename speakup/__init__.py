"""Speak Up: raise a concern safely, and follow it up without an account."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import click
from flask import Flask

from speakup.platform import headers, logs, transactions
from speakup.platform.extensions import csrf, limiter, login_manager
from speakup.platform.migrations import enable_migrations
from speakup.platform.models import db
from speakup.platform.sqlite import configure_sqlite_for
from speakup.settings import (
    ConfigurationError,
    check_audit_pepper,
    check_roster_root,
    check_schema,
    finish_config,
    report_unready_settings,
    warn_about_placeholders,
)

__all__ = ["ConfigurationError", "create_app"]

ROOT = Path(__file__).resolve().parent.parent


def _default_instance_folder() -> Path:
    """instance/ beside the code in a checkout; for an installed package, where the command runs, never inside the
    virtual environment (lost on reinstall, and not writable by the service)."""
    return ROOT / "instance" if (ROOT / "pyproject.toml").exists() else Path.cwd() / "instance"


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    instance_path = os.environ.get("SPEAKUP_INSTANCE_PATH") or str(_default_instance_folder())
    app = Flask(__name__, instance_path=instance_path, static_folder=None)  # /assets/: speakup/web/assets.py
    app.config.from_object("speakup.defaults")
    app.config.from_prefixed_env("SPEAKUP")
    if overrides:
        app.config.update(overrides)
    finish_config(app)

    db.init_app(app)
    configure_sqlite_for(app)  # secure delete, WAL, every commit synced: see speakup/platform/sqlite.py
    transactions.init_app(app)  # each request commits once, at its end
    serving = click.get_current_context(silent=True) is None
    if not serving:
        enable_migrations(
            app
        )  # `flask db ...`; a web worker is not started by the command line (platform/migrations.py)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    # Per process, not global: see ARGON2_PARALLEL_DERIVATIONS in speakup/defaults.py.
    app.extensions["speakup_password_derivations"] = threading.BoundedSemaphore(
        int(app.config["ARGON2_PARALLEL_DERIVATIONS"])
    )
    app.extensions["speakup_image_decodes"] = threading.BoundedSemaphore(int(app.config["ATTACHMENT_PARALLEL_DECODES"]))

    from speakup.cli import speakup_cli
    from speakup.keys import written  # noqa: F401 - its import anchors every append to the roster log
    from speakup.web import register

    register(app)
    app.cli.add_command(speakup_cli)
    logs.init_logging(app)
    headers.init_app(app)
    headers.trust_proxies(app)
    if serving and app.config["ENVIRONMENT"] == "production":
        warn_about_placeholders(app)  # after init_logging, so it is a JSON line like every other
        report_unready_settings(app)
        check_roster_root(app)
        check_schema(app)
        check_audit_pepper(app)
        from speakup.domain.health import report_foreign_triggers

        report_foreign_triggers(app)  # logged, never refused: /healthz must stay readable
    return app
