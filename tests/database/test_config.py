"""Starting up: production refuses missing secrets; development makes its own and keeps them."""

from __future__ import annotations

import json
import logging
import platform
import runpy
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from support.apps import TEST_CONFIG, install_organisation_keys, make_app

from speakup import ConfigurationError, create_app
from speakup.crypto import signing
from speakup.platform.config import settings
from speakup.platform.models import db


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for key in ("SPEAKUP_SECRET_KEY", "SPEAKUP_TOKEN_PEPPER", "SPEAKUP_ENVIRONMENT", "SPEAKUP_ROSTER_ROOT"):
        monkeypatch.delenv(key, raising=False)


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({}, "SPEAKUP_SECRET_KEY and SPEAKUP_TOKEN_PEPPER"),
        ({"SECRET_KEY": "s" * 40}, "SPEAKUP_TOKEN_PEPPER"),
        ({"TOKEN_PEPPER": "p" * 40}, "SPEAKUP_SECRET_KEY"),
    ],
)
def test_production_refuses_to_start_without_secrets(tmp_path, given, missing):
    with pytest.raises(ConfigurationError) as excinfo:
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite", **given})
    assert str(excinfo.value).startswith(f"{missing} must be set")


@pytest.mark.parametrize(
    "fallbacks",
    [
        "Zq93kd0PlainOldKeyNoBracketsButLongEnoughToPass",  # not a JSON list: Flask would take it letter by letter
        '["short"]',  # a list, but of a key anyone could guess
        '[42]',
        '{"key": "x"}',
    ],
)
def test_production_refuses_secret_key_fallbacks_that_are_not_a_list_of_strong_keys(tmp_path, monkeypatch, fallbacks):
    """Outside review, finding 2: a fallbacks line pasted without its brackets was read as one-letter keys, and a
    cookie signed with the key "Z" was accepted."""
    monkeypatch.setenv("SPEAKUP_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("SPEAKUP_TOKEN_PEPPER", "p" * 40)
    monkeypatch.setenv("SPEAKUP_SECRET_KEY_FALLBACKS", fallbacks)
    with pytest.raises(ConfigurationError) as excinfo:
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite"})
    assert "SPEAKUP_SECRET_KEY_FALLBACKS must be a JSON list" in str(excinfo.value)
    assert "Zq93" not in str(excinfo.value)  # a key is never echoed


def test_production_logs_an_error_for_a_short_secret_key_or_pepper(installed, caplog):
    url, root = installed
    short = {"SECRET_KEY": "a", "TOKEN_PEPPER": "p" * 40}
    with caplog.at_level(logging.ERROR, logger="speakup"):
        create_app({"SQLALCHEMY_DATABASE_URI": url, "ROSTER_ROOT": root, **short})
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(m.startswith("SECRET_KEY is short") for m in errors), errors
    assert not any("TOKEN_PEPPER is short" in m for m in errors)


def test_production_starts_with_secrets_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SPEAKUP_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("SPEAKUP_TOKEN_PEPPER", "p" * 40)
    monkeypatch.setenv("SPEAKUP_ACK_DAYS", "5")
    monkeypatch.setenv("SPEAKUP_ROSTER_ROOT", "ab12-" * 15 + "ab12")  # a database not made yet is checked later
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite"})
    assert app.config["SECRET_KEY"] == "k" * 40
    assert app.config["ACK_DAYS"] == 5
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REQUIRE_MFA"] is True


def test_the_settings_object_never_shows_a_secret_and_anchors_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SPEAKUP_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(
        {
            "ENVIRONMENT": "testing",
            "SECRET_KEY": "k" * 40,
            "TOKEN_PEPPER": "pepper-" * 6,
            "MAIL_SERVER": "smtp.trust.example.org",
            "MAIL_PASSWORD": "mail-password-" * 3,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite",
        }
    )
    with app.app_context():
        configured = settings()
    shown = repr(configured)
    assert "pepper-" not in shown and "mail-password-" not in shown  # a log line or a traceback never holds them
    assert "smtp.trust.example.org" in shown  # what is not secret still helps whoever reads it
    assert configured.mail.password == "mail-password-" * 3
    assert configured.roster_anchor_file == tmp_path / "instance" / "roster-anchor.json"


def test_development_generates_secrets_once_and_keeps_them(tmp_path, monkeypatch):
    monkeypatch.setenv("SPEAKUP_ENVIRONMENT", "development")
    monkeypatch.setenv("SPEAKUP_INSTANCE_PATH", str(tmp_path / "instance"))
    first = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite"})
    second = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite"})
    assert first.config["TOKEN_PEPPER"] and first.config["TOKEN_PEPPER"] == second.config["TOKEN_PEPPER"]
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert (tmp_path / "instance" / "development-secrets.json").stat().st_mode & 0o077 == 0


def test_unknown_environment_is_refused(tmp_path):
    with pytest.raises(ConfigurationError):
        create_app({"ENVIRONMENT": "staging", "SECRET_KEY": "k", "TOKEN_PEPPER": "p"})


@pytest.mark.parametrize("delay", ["soon", "600-60", "-1"])
def test_a_mail_delay_that_is_not_a_range_of_seconds_is_refused(tmp_path, delay):
    with pytest.raises(ConfigurationError, match="SPEAKUP_MAIL_DELAY_SECONDS"):
        create_app(
            {**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite", "MAIL_DELAY_SECONDS": delay}
        )


def test_gunicorn_workers_return_large_blocks_to_the_system():
    # Without a fixed mmap threshold each worker thread keeps an Argon2id block resident after sign-in.
    settings = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))
    assert settings["LARGE_ALLOCATION_BYTES"] == 1 << 20
    assert settings["return_large_allocations_to_the_os"]() is (platform.libc_ver()[0] == "glibc")
    assert "post_fork" in settings


@pytest.mark.parametrize(
    ("workers", "store", "said"), [(2, None, True), (1, None, False), (4, "redis://r:6379/0", False)]
)
def test_gunicorn_says_at_error_when_workers_count_limits_apart(monkeypatch, workers, store, said):
    settings = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))
    if store:
        monkeypatch.setenv("SPEAKUP_RATELIMIT_STORAGE_URI", store)
    else:
        monkeypatch.delenv("SPEAKUP_RATELIMIT_STORAGE_URI", raising=False)
    errors: list[str] = []

    class Log:
        def error(self, message: str, *args: object) -> None:
            errors.append(message % args)

    server = type("Server", (), {"cfg": type("Cfg", (), {"workers": workers})(), "log": Log()})()
    settings["when_ready"](server)
    assert bool(errors) is said
    if said:
        assert errors[0].startswith("Rate limits are counted per worker") and "2 times" in errors[0]


@pytest.mark.thorough
def test_a_web_worker_runs_without_alembic_and_the_command_line_still_migrates(tmp_path):
    """Alembic is about 11 MiB a process and a web worker never migrates (speakup/platform/migrations.py)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {
        "PATH": "/usr/bin:/bin",
        "SPEAKUP_ENVIRONMENT": "development",
        "SPEAKUP_INSTANCE_PATH": str(tmp_path),
        "SPEAKUP_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/speakup.sqlite",
    }
    as_gunicorn_loads_it = (
        "import sys, wsgi; wsgi.app.test_client().get('/healthz');"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'flask_migrate'}))"
    )
    worker = subprocess.run(
        [sys.executable, "-c", as_gunicorn_loads_it], cwd=root, env=env, capture_output=True, text=True, timeout=60
    )
    assert worker.returncode == 0, worker.stderr
    assert worker.stdout.strip() == "[]"

    def flask(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    init = flask("speakup", "init", "--recovery-key-file", str(tmp_path / "recovery.txt"))
    assert init.returncode == 0, init.stderr
    current = flask("db", "current")
    assert current.returncode == 0, current.stderr
    assert "(head)" in current.stdout


# --- The pinned roster root ---------------------------------------------------------------------------------------

PRODUCTION = {"SECRET_KEY": "k" * 40, "TOKEN_PEPPER": "p" * 40}


@pytest.fixture
def installed(tmp_path) -> tuple[str, str]:
    """A database `speakup init` has made: its URL and its roster root."""
    url = f"sqlite:///{tmp_path}/installed.sqlite"
    app = make_app(url)
    install_organisation_keys(app)
    with app.app_context():
        db.engine.dispose()
    return url, app.config["ROSTER_ROOT"]


def test_production_refuses_to_serve_without_a_roster_root_and_names_the_command(installed):
    url, _root = installed
    with pytest.raises(ConfigurationError) as excinfo:
        create_app({"SQLALCHEMY_DATABASE_URI": url, **PRODUCTION})
    message = str(excinfo.value)
    assert message.startswith("SPEAKUP_ROSTER_ROOT must be set in production")
    assert "speakup init" in message and "speakup roster upgrade" in message


@pytest.mark.parametrize("root", ["not a fingerprint", "ab12-" * 15 + "ab1"])
def test_production_refuses_a_roster_root_that_is_not_a_fingerprint(installed, root):
    url, _root = installed
    with pytest.raises(ConfigurationError, match="not a roster-root fingerprint"):
        create_app({"SQLALCHEMY_DATABASE_URI": url, "ROSTER_ROOT": root, **PRODUCTION})


def test_production_refuses_a_roster_root_that_does_not_match_the_database(installed):
    url, root = installed
    other = signing.roster_fingerprint(signing.generate_signing_keypair().public_bytes)
    with pytest.raises(ConfigurationError, match="does not match this database's organisation signing key"):
        create_app({"SQLALCHEMY_DATABASE_URI": url, "ROSTER_ROOT": other, **PRODUCTION})
    # The right one, in any case and with or without its hyphens, starts.
    for written in (root, root.upper(), root.replace("-", "")):
        assert create_app({"SQLALCHEMY_DATABASE_URI": url, "ROSTER_ROOT": written, **PRODUCTION})


def test_production_refuses_a_database_without_an_organisation_signing_key(installed):
    url, root = installed
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM organisation_keys WHERE purpose = 'roster'"))
    engine.dispose()
    with pytest.raises(ConfigurationError, match="no organisation signing key"):
        create_app({"SQLALCHEMY_DATABASE_URI": url, "ROSTER_ROOT": root, **PRODUCTION})


# --- The trust's name -----------------------------------------------------------------------------------------------

DEFAULT_NAME_WARNING = "ORGANISATION_NAME is still the default 'Your NHS trust': set SPEAKUP_ORGANISATION_NAME"


def _name_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if "ORGANISATION_NAME" in record.getMessage()]


def test_production_warns_at_start_up_while_the_trust_has_the_default_name(installed, caplog, capsys, monkeypatch):
    monkeypatch.delenv("SPEAKUP_ORGANISATION_NAME", raising=False)
    url, root = installed
    with caplog.at_level(logging.WARNING, logger="speakup"):
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "ROSTER_ROOT": root, **PRODUCTION})
    assert app.config["ORGANISATION_NAME"] == "Your NHS trust"
    [record] = _name_warnings(caplog)
    assert record.levelno == logging.WARNING and record.name == app.logger.name == "speakup"
    assert record.getMessage() == DEFAULT_NAME_WARNING
    # Through the app's own handler: one JSON line, like every other line the service logs.
    lines = [line for line in capsys.readouterr().err.splitlines() if "ORGANISATION_NAME" in line]
    assert len(lines) == 1 and json.loads(lines[0])["message"] == DEFAULT_NAME_WARNING


def test_production_with_the_trusts_name_does_not_warn(installed, caplog, monkeypatch):
    monkeypatch.setenv("SPEAKUP_ORGANISATION_NAME", "Anytown and District NHS Foundation Trust")
    url, root = installed
    with caplog.at_level(logging.DEBUG, logger="speakup"):
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "ROSTER_ROOT": root, **PRODUCTION})
    assert app.config["ORGANISATION_NAME"] == "Anytown and District NHS Foundation Trust"
    assert _name_warnings(caplog) == []


def test_production_warns_when_the_name_is_blank(installed, caplog):
    url, root = installed
    with caplog.at_level(logging.WARNING, logger="speakup"):
        create_app({"SQLALCHEMY_DATABASE_URI": url, "ROSTER_ROOT": root, "ORGANISATION_NAME": "  ", **PRODUCTION})
    assert [r.getMessage() for r in _name_warnings(caplog)] == [
        "ORGANISATION_NAME is empty: set SPEAKUP_ORGANISATION_NAME"
    ]


def test_development_keeps_the_default_name_quietly(tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("SPEAKUP_ENVIRONMENT", "development")
    monkeypatch.setenv("SPEAKUP_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("SPEAKUP_ORGANISATION_NAME", raising=False)
    with caplog.at_level(logging.WARNING, logger="speakup"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite"})
    assert _name_warnings(caplog) == []


# --- What production will not start with, or starts with and says so (issue 27) ------------------------------------


def test_production_refuses_a_database_one_migration_behind_and_names_the_command(installed):
    url, root = installed
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0019'"))
    engine.dispose()
    with pytest.raises(ConfigurationError, match=r"schema is at migration 0019, not 00\d\d: run .*speakup init"):
        create_app({"SQLALCHEMY_DATABASE_URI": url, "ROSTER_ROOT": root, **PRODUCTION})


def test_production_logs_an_error_for_a_development_address_and_no_mail_server(installed, caplog):
    url, root = installed
    with caplog.at_level(logging.ERROR, logger="speakup"):
        create_app({"SQLALCHEMY_DATABASE_URI": url, "ROSTER_ROOT": root, **PRODUCTION})
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(m.startswith("PUBLIC_BASE_URL is not an https:// address") for m in errors), errors
    assert any(m.startswith("MAIL_SERVER is not set") for m in errors), errors
    caplog.clear()
    ready = {"PUBLIC_BASE_URL": "https://speakup.example.nhs.uk", "MAIL_SERVER": "mail.example.nhs.uk"}
    with caplog.at_level(logging.ERROR, logger="speakup"):
        create_app({"SQLALCHEMY_DATABASE_URI": url, "ROSTER_ROOT": root, **PRODUCTION, **ready})
    assert [r for r in caplog.records if r.levelno == logging.ERROR] == []


def test_production_starts_with_a_trigger_on_its_tables_and_logs_it(installed, caplog):
    """Outside review r5, F1: a trigger can silently drop the service's writes. Logged at start-up, never refused:
    the operator must still be able to read /healthz, which names it too."""
    url, root = installed
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TRIGGER r5_drop BEFORE INSERT ON roster_log BEGIN SELECT RAISE(IGNORE); END"))
    engine.dispose()
    ready = {"PUBLIC_BASE_URL": "https://speakup.example.nhs.uk", "MAIL_SERVER": "mail.example.nhs.uk"}
    with caplog.at_level(logging.ERROR, logger="speakup"):
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "ROSTER_ROOT": root, **PRODUCTION, **ready})
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    named = "database_trigger_found: a trigger the service did not make, r5_drop on roster_log"
    assert any(m.startswith(named) for m in errors), errors
    with app.app_context():
        db.engine.dispose()


def test_production_behind_a_proxy_refuses_the_development_address(installed):
    """Behind a reverse proxy the service is certainly not reached at 127.0.0.1:5000, so enrolment links and
    guardian emails would point nowhere (issue 27): refused, naming the setting. Without a proxy setting (one machine
    on trial, the interface's own checks) it starts, with the ERROR line above."""
    url, root = installed
    behind = {"SQLALCHEMY_DATABASE_URI": url, "ROSTER_ROOT": root, **PRODUCTION, "PROXY_FIX_X_FOR": 1}
    # Outside review r4 (F4): the default with a slash or in capitals, localhost, empty, and no host at all.
    loopbacks = (None, "http://127.0.0.1:5000/", "HTTP://127.0.0.1:5000", "http://localhost:8000", "https://[::1]/",
                 "", "https://", "http://127.1.2.3")  # fmt: skip
    for loopback in loopbacks:
        with pytest.raises(ConfigurationError, match=r"SPEAKUP_PUBLIC_BASE_URL must be set .*https://"):
            create_app({**behind, **({"PUBLIC_BASE_URL": loopback} if loopback is not None else {})})
    create_app({**behind, "PUBLIC_BASE_URL": "https://speakup.example.nhs.uk"})


def test_production_still_starts_pinned_to_an_organisation_key_the_log_handed_over_from(tmp_path):
    """After `rotate-organisation-key`, a worker that starts before the operator changes the pin (gunicorn replacing
    one) serves, following the hand-over; a pin the log does not lead from is still refused."""
    from support.factories import organisation_secrets

    from speakup.keys import organisation_key

    url = f"sqlite:///{tmp_path}/rotated.sqlite"
    app = make_app(url)
    install_organisation_keys(app)
    root = app.config["ROSTER_ROOT"]
    with app.app_context():
        organisation_key.rotate_organisation_key(organisation_secrets(app))
        db.session.commit()
        db.engine.dispose()
    assert create_app({"SQLALCHEMY_DATABASE_URI": url, "ROSTER_ROOT": root, **PRODUCTION})
    other = signing.roster_fingerprint(signing.generate_signing_keypair().public_bytes)
    with pytest.raises(ConfigurationError, match="does not match this database's organisation signing key"):
        create_app({"SQLALCHEMY_DATABASE_URI": url, "ROSTER_ROOT": other, **PRODUCTION})
