"""`flask speakup national-return` (also `ngo-return`) and `flask speakup stats-token ...`: the national return
and the read-only statistics tokens a trust's own dashboard uses for GET /api/v1/stats."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from speakup.domain import quarters
from speakup.platform import transactions
from speakup.reporting import national_return, stats_tokens


@click.command("national-return")
@click.option(
    "--quarter",
    required=True,
    help="A calendar quarter such as 2026Q3 (Q1 is January to March), or the NHS financial year's name for the same "
    "months, 2026/27 Q2.",
)
@click.option("--published", is_flag=True, help="Small numbers suppressed, for publication (the board report's rule).")
@with_appcontext
def national_return_command(quarter: str, published: bool) -> None:
    """Print a quarter's national Freedom to Speak Up return for NHS England as CSV: exact counts for submission,
    or with --published small numbers suppressed."""
    try:
        period = quarters.parse_quarter(quarter)
    except quarters.BadQuarter as exc:
        raise click.BadParameter(str(exc), param_hint="--quarter") from None
    version = national_return.PUBLISHED if published else national_return.SUBMISSION
    output = national_return.export_for_command(period, version)
    transactions.commit()
    click.echo(f"{period.financial_heading} ({period.months}). {national_return.NOTES[version]}", err=True)
    click.echo(output, nl=False)


stats_token_cli = AppGroup("stats-token", help="Read-only tokens for GET /api/v1/stats.")


@stats_token_cli.command("create")
@click.option("--name", required=True, help="What the token is for, such as the dashboard that uses it.")
def stats_token_create_command(name: str) -> None:
    """Create a token and print it once: only its keyed hash is kept, so it cannot be shown again."""
    try:
        _row, token = stats_tokens.create_stats_token(name, current_app.config["TOKEN_PEPPER_BYTES"])
    except stats_tokens.TokenError as exc:
        raise click.ClickException(str(exc)) from None
    transactions.commit()
    click.echo(f"stats-token: {token}")
    click.echo("Keep it secret and store it where the dashboard reads it. It is shown only this once.", err=True)


@stats_token_cli.command("revoke")
@click.option("--name", required=True)
def stats_token_revoke_command(name: str) -> None:
    """Revoke the token with this name; it stops working at once."""
    try:
        count = stats_tokens.revoke_stats_token(name)
    except stats_tokens.TokenError as exc:
        raise click.ClickException(str(exc)) from None
    transactions.commit()
    click.echo(f"Revoked {count} statistics token{'s' if count != 1 else ''} named {name.strip()!r}.")


@stats_token_cli.command("list")
def stats_token_list_command() -> None:
    """List the tokens by name, with when each was created and whether the service takes it (never the token
    itself): revoked as the service decides, from the roster log as well as the row (outside review r4, F5)."""
    rows = stats_tokens.stats_tokens()
    if not rows:
        click.echo("No statistics tokens.")
        return
    refused = stats_tokens.refused_tokens()
    for row in rows:
        if row.revoked_at:
            state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M} UTC"
        elif refused is None:
            state = "refused for now: the roster log has an alarm (`speakup roster verify`)"
        elif row.token_hash in refused:
            state = "revoked (the roster log names its revocation; its row was changed since)"
        else:
            state = "active"
        click.echo(f"{row.name}\tcreated {row.created_at:%Y-%m-%d %H:%M} UTC\t{state}")
