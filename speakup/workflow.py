"""The case status machine and its deadlines. Pure functions: no I/O, no clock of their own."""

from __future__ import annotations

from datetime import date, datetime, timedelta

RECEIVED = "received"
ACKNOWLEDGED = "acknowledged"
IN_PROGRESS = "in_progress"
AWAITING_REPORTER = "awaiting_reporter"
REFERRED = "referred"
CLOSED = "closed"

# What the person who spoke up sees, in plain words.
REPORTER_LABELS = {
    RECEIVED: "Received – waiting for a guardian",
    ACKNOWLEDGED: "A guardian has seen your concern",
    IN_PROGRESS: "Being looked into",
    AWAITING_REPORTER: "Waiting for your reply",
    REFERRED: "Passed to the team who can act on it",
    CLOSED: "Closed",
}

# What a guardian sees in the queue and the status select.
GUARDIAN_LABELS = {
    RECEIVED: "Received",
    ACKNOWLEDGED: "Acknowledged",
    IN_PROGRESS: "In progress",
    AWAITING_REPORTER: "Awaiting reporter",
    REFERRED: "Referred",
    CLOSED: "Closed",
}

TRANSITIONS: dict[str, tuple[str, ...]] = {
    RECEIVED: (ACKNOWLEDGED, CLOSED),
    ACKNOWLEDGED: (IN_PROGRESS, CLOSED),
    IN_PROGRESS: (AWAITING_REPORTER, REFERRED, CLOSED),
    AWAITING_REPORTER: (IN_PROGRESS, CLOSED),
    REFERRED: (IN_PROGRESS, CLOSED),
    CLOSED: (IN_PROGRESS,),
}


def allowed_next(status: str) -> tuple[str, ...]:
    return TRANSITIONS.get(status, ())


def can_move(current: str, target: str) -> bool:
    return target in allowed_next(current)


def status_after_reporter_reply(status: str) -> str:
    """A reply from the reporter puts a case that was waiting for them back to work."""
    return IN_PROGRESS if status == AWAITING_REPORTER else status


def acknowledge_by(raised_at: datetime, ack_days: int) -> date:
    return (raised_at + timedelta(days=ack_days)).date()


def feedback_by(raised_at: datetime, feedback_days: int) -> date:
    return (raised_at + timedelta(days=feedback_days)).date()
