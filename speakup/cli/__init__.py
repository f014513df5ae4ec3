"""`flask speakup ...`: the operator's commands, one module per group, all listed here."""

from __future__ import annotations

from flask.cli import AppGroup

from speakup.cli.audit import audit_cli
from speakup.cli.backup import backup_command
from speakup.cli.recovery import exclusions_cli, recover_command
from speakup.cli.reporting import ngo_return_command, stats_token_cli
from speakup.cli.retention import purge_command
from speakup.cli.roster import approve_command, roster_cli
from speakup.cli.sessions import send_reminders_command, sessions_cli
from speakup.cli.setup import create_user_command, demo_command, init_command

speakup_cli = AppGroup("speakup", help="Speak Up administration.")

for command in (
    init_command,
    create_user_command,
    demo_command,
    approve_command,
    roster_cli,
    recover_command,
    exclusions_cli,
    audit_cli,
    sessions_cli,
    send_reminders_command,
    purge_command,
    ngo_return_command,
    stats_token_cli,
    backup_command,
):
    speakup_cli.add_command(command)
