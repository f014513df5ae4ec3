"""The settings the rules read, as one typed object: ``settings()``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app


@dataclass(frozen=True)
class MailSettings:
    """How guardians' emails leave (speakup/ops/notify.py queues them, speakup/ops/outbox.py sends them)."""

    server: str  # empty: nothing is sent
    port: int
    use_starttls: bool
    use_ssl: bool
    username: str | None
    password: str | None = field(repr=False)
    sender: str
    timeout: float
    delay_seconds: tuple[int, int]  # each email waits a random time in this range (MAIL_DELAY_SECONDS)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MailSettings:
        return cls(
            server=config.get("MAIL_SERVER") or "",
            port=int(config["MAIL_PORT"]),
            use_starttls=bool(config.get("MAIL_USE_STARTTLS")),
            use_ssl=bool(config.get("MAIL_USE_SSL")),
            username=config.get("MAIL_USERNAME") or None,
            password=config.get("MAIL_PASSWORD") or None,
            sender=config["MAIL_FROM"],
            timeout=float(config["MAIL_TIMEOUT"]),
            delay_seconds=delay_range(config["MAIL_DELAY_SECONDS"]),
        )


@dataclass(frozen=True)
class BackupSettings:
    """Where `speakup backups run` writes the nightly copy, how long copies are kept, and how old the newest may be
    before /healthz says so (speakup/ops/backups.py). No folder: the service makes no backups of its own."""

    folder: Path | None
    keep_days: int
    max_age_hours: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> BackupSettings:
        folder = config.get("BACKUP_FOLDER")
        return cls(
            folder=Path(folder) if folder else None,
            keep_days=int(config["BACKUP_KEEP_DAYS"]),
            max_age_hours=int(config["BACKUP_MAX_AGE_HOURS"]),
        )


def delay_range(value: object) -> tuple[int, int]:
    """MAIL_DELAY_SECONDS as (shortest, longest): "60-600", or one number for a fixed delay (0: none). ValueError
    for anything else."""
    low, _, high = str(value).strip().partition("-")
    shortest, longest = int(low), int(high or low)
    if not 0 <= shortest <= longest:
        raise ValueError(f"not a range of seconds: {value!r}")
    return shortest, longest


@dataclass(frozen=True)
class Settings:
    """The settings the domain (and the keys and ops below it) read, typed and named for what they are for.

    ``settings()`` builds it from the app's config each time it is asked for, rather than once at start-up: the
    config stays the one place a setting lives (speakup/defaults.py, SPEAKUP_* variables, ``create_app``'s
    overrides, checked by speakup/settings.py), so a setting changed on a running app, as commands and tests do, is
    never read stale from a copy. Building it is a few dictionary reads. Values are taken as configured, not
    converted: one that is checked where it is used (``retention_days``) still reaches that check as it was set."""

    environment: str
    # Keys every lookup id, pseudonym and keyed hash (speakup/settings.py makes the bytes); never in a repr.
    token_pepper: bytes = field(repr=False)
    # The current pepper first, then those it replaced (SPEAKUP_TOKEN_PEPPER_FALLBACKS): lookups accept any of them,
    # writes use the first alone.
    token_peppers: tuple[bytes, ...] = field(repr=False)
    require_mfa: bool
    staff_idle_minutes: int
    staff_absolute_hours: int
    reporter_idle_minutes: int
    enrolment_hours: float
    max_concern_chars: int
    max_message_chars: int
    max_short_field_chars: int
    deadline_rules: str  # a key of speakup/domain/deadlines.RULE_SETS: "england", "eu", "scotland" or "wales"
    scotland_stage: int
    ack_days: int
    feedback_days: int
    check_in_days: tuple[int, ...]
    reminder_days: int  # a deadline this close is "due soon" in the queue and the reminder emails
    retention_days: Any  # checked where it is used, so a nonsense period refuses to purge (domain/retention.py)
    confirmation_minutes: int
    submission_hours: int
    suppress_below: int
    characteristics_min_answers: int
    argon2_memory_kib: int
    argon2_iterations: int
    argon2_lanes: int
    roster_root: str | None  # the pinned organisation signing key's fingerprint (speakup/keys/roster.py)
    roster_approvals_required: int
    roster_anchor_file: Path  # this server's record of the roster log's head, outside the database (keys/anchor.py)
    mail: MailSettings
    backups: BackupSettings
    languages: tuple[str, ...]  # the codes of the languages offered, the default first (LANGUAGES_OFFERED)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        return cls(
            environment=config["ENVIRONMENT"],
            token_pepper=config["TOKEN_PEPPER_BYTES"],
            token_peppers=(config["TOKEN_PEPPER_BYTES"], *config.get("TOKEN_PEPPER_FALLBACK_BYTES", ())),
            require_mfa=config["REQUIRE_MFA"],
            staff_idle_minutes=config["STAFF_IDLE_MINUTES"],
            staff_absolute_hours=config["STAFF_ABSOLUTE_HOURS"],
            reporter_idle_minutes=config["REPORTER_IDLE_MINUTES"],
            enrolment_hours=config["ENROLMENT_HOURS"],
            max_concern_chars=config["MAX_CONCERN_CHARS"],
            max_message_chars=config["MAX_MESSAGE_CHARS"],
            max_short_field_chars=config["MAX_SHORT_FIELD_CHARS"],
            deadline_rules=config["DEADLINE_RULES"],
            scotland_stage=config["SCOTLAND_STAGE"],
            ack_days=config["ACK_DAYS"],
            feedback_days=config["FEEDBACK_DAYS"],
            check_in_days=tuple(config["CHECK_IN_DAYS"]),
            reminder_days=int(config["REMINDER_DAYS"]),
            retention_days=config["RETENTION_DAYS"],
            confirmation_minutes=config["CONFIRMATION_MINUTES"],
            submission_hours=config["SUBMISSION_HOURS"],
            suppress_below=config["SUPPRESS_BELOW"],
            characteristics_min_answers=config["CHARACTERISTICS_MIN_ANSWERS"],
            argon2_memory_kib=config["ARGON2_MEMORY_KIB"],
            argon2_iterations=config["ARGON2_ITERATIONS"],
            argon2_lanes=config["ARGON2_LANES"],
            roster_root=config.get("ROSTER_ROOT"),
            roster_approvals_required=config["ROSTER_APPROVALS_REQUIRED"],
            roster_anchor_file=Path(config["ROSTER_ANCHOR_FILE"]),
            mail=MailSettings.from_config(config),
            backups=BackupSettings.from_config(config),
            languages=tuple(language.code for language in config["LANGUAGES_OFFERED"]),
        )

    @property
    def deadline_config(self) -> dict[str, Any]:
        """The four deadline settings in the shape speakup/domain/deadlines.py's pure functions take."""
        return {
            "DEADLINE_RULES": self.deadline_rules,
            "SCOTLAND_STAGE": self.scotland_stage,
            "ACK_DAYS": self.ack_days,
            "FEEDBACK_DAYS": self.feedback_days,
        }


def settings() -> Settings:
    """This app's settings, as they are now."""
    return Settings.from_config(current_app.config)
