"""The case status machine and its deadlines. Pure functions: no I/O, no clock of their own."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from speakup.platform import clock

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


def due_date(raised_at: datetime, days: int) -> date:
    """The UK calendar day ``days`` after the UK day the concern arrived.

    A concern raised at 23:30 UTC on 31 March 2026 arrived on 1 April in the UK (BST), so a
    7-day deadline falls on 8 April, not 7 April.
    """
    return clock.uk_date(raised_at) + timedelta(days=days)


def acknowledge_by(raised_at: datetime, ack_days: int) -> date:
    return due_date(raised_at, ack_days)


def feedback_by(raised_at: datetime, feedback_days: int) -> date:
    return due_date(raised_at, feedback_days)


def next_due(status: str, acknowledge_by: date, feedback_by: date) -> date | None:
    """The deadline that matters next: acknowledging a new case, then feedback; none once closed."""
    if status == CLOSED:
        return None
    return acknowledge_by if status == RECEIVED else feedback_by


OVERDUE = "overdue"
DUE_SOON = "due_soon"
DUE = "due"
DEADLINE_LABELS = {OVERDUE: "Overdue", DUE_SOON: "Due soon", DUE: "Due"}


def deadline_state(due: date | None, today: date, soon_days: int) -> str | None:
    """Overdue after the due day; due soon from ``soon_days`` before it, the due day included."""
    if due is None:
        return None
    if today > due:
        return OVERDUE
    if (due - today).days <= soon_days:
        return DUE_SOON
    return DUE
