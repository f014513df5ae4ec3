"""`flask speakup ...`: the operator's commands, one module per group, all listed here."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

import click
from flask import has_app_context
from flask.cli import AppGroup

from speakup.cli.audit import audit_cli
from speakup.cli.backup import backup_command, backups_cli
from speakup.cli.mail import mail_cli
from speakup.cli.organisation_key import rotate_organisation_key_command
from speakup.cli.recovery import exclusions_cli, recover_command, rotate_recovery_key_command
from speakup.cli.reporting import national_return_command, stats_token_cli
from speakup.cli.retention import purge_command
from speakup.cli.roster import approve_command, roster_cli
from speakup.cli.sessions import send_reminders_command, sessions_cli
from speakup.cli.setup import (
    create_user_command,
    demo_command,
    downgrade_schema_command,
    init_command,
    rotate_pepper_command,
    rotate_secret_key_command,
)
from speakup.platform import transactions
from speakup.platform.models import drop_failed_transaction

speakup_cli = AppGroup("speakup", help="Speak Up administration.")
# The version is written once, in pyproject.toml; the installed package's metadata carries it here.
click.version_option(package_name="speakup", prog_name="Speak Up", message="%(prog)s %(version)s")(speakup_cli)

for command in (
    init_command,
    downgrade_schema_command,
    rotate_secret_key_command,
    rotate_pepper_command,
    create_user_command,
    demo_command,
    approve_command,
    roster_cli,
    recover_command,
    rotate_recovery_key_command,
    rotate_organisation_key_command,
    exclusions_cli,
    audit_cli,
    sessions_cli,
    send_reminders_command,
    mail_cli,
    purge_command,
    national_return_command,
    stats_token_cli,
    backup_command,
    backups_cli,
):
    speakup_cli.add_command(command)
# The name the return had while the National Guardian's Office collected it, kept for scripts that use it.
speakup_cli.add_command(national_return_command, name="ngo-return")


def _one_unit_of_work(command: click.Command) -> None:
    """Each command is one unit of work, as a request is (platform/transactions.py): committed when it returns or
    exits on purpose (``roster verify`` exits 1 having recorded its alarms), rolled back if it fails."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _one_unit_of_work(sub)
        return
    run = command.callback
    if run is None:
        return

    @functools.wraps(run)
    def in_one_unit(*args: Any, **kwargs: Any) -> Any:
        try:
            result = run(*args, **kwargs)
        except SystemExit:
            _end(transactions.commit)
            raise
        except BaseException:
            _end(drop_failed_transaction)
            raise
        _end(transactions.commit)
        return result

    command.callback = in_one_unit


def _end(how: Any) -> None:
    if has_app_context():  # a command that never opened the app (it refused its options) has nothing to end
        how()


_one_unit_of_work(speakup_cli)


class SettingsRefused(click.ClickException):
    """Settings the app refused to start with, when a command was starting it: click prints "Error: <message>" on one
    line and exits 2, as for a wrong option, since the command would have been right with the right settings."""

    exit_code = 2


DEVELOPMENT_HINT = (
    "SPEAKUP_ENVIRONMENT is not set, so this is production: for a development instance, set "
    "SPEAKUP_ENVIRONMENT=development (make run does)."
)


def settings_refused(message: str, config: Mapping[str, Any]) -> SettingsRefused:
    """The one line for a refused configuration (speakup/settings.py raises it under a command). Production is the
    default, so a developer who runs a command without SPEAKUP_ENVIRONMENT meets the production refusal of missing
    secrets: they are told both ways out, the secrets for production and the setting for development."""
    text = message.rstrip(".") + "."
    secrets_missing = not (config.get("SECRET_KEY") and config.get("TOKEN_PEPPER"))
    if secrets_missing and config.get("ENVIRONMENT") == "production" and "SPEAKUP_ENVIRONMENT" not in os.environ:
        text += " " + DEVELOPMENT_HINT
    return SettingsRefused(text)
