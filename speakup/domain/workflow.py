"""The case status machine: the statuses, the words each side reads for them and the moves between them, and the UK
day a stored time falls on. Pure functions: no I/O, no clock of their own. The dates a case is due by are
``speakup.domain.deadlines``.

A status is stored as its key; its label is only ever shown."""

from __future__ import annotations

from speakup.platform.translation import lazy_gettext as _l

RECEIVED = "received"
ACKNOWLEDGED = "acknowledged"
IN_PROGRESS = "in_progress"
AWAITING_REPORTER = "awaiting_reporter"
REFERRED = "referred"
CLOSED = "closed"

# What the person who spoke up sees, in plain words.
REPORTER_LABELS = {
    RECEIVED: _l("Received – waiting for a guardian"),
    ACKNOWLEDGED: _l("A guardian has seen your concern"),
    IN_PROGRESS: _l("Being looked into"),
    AWAITING_REPORTER: _l("Waiting for your reply"),
    REFERRED: _l("Passed to the team who can act on it"),
    CLOSED: _l("Closed"),
}

# What a guardian sees in the queue and the status select.
GUARDIAN_LABELS = {
    RECEIVED: _l("Received"),
    ACKNOWLEDGED: _l("Acknowledged"),
    IN_PROGRESS: _l("In progress"),
    AWAITING_REPORTER: _l("Awaiting reporter"),
    REFERRED: _l("Referred"),
    CLOSED: _l("Closed"),
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
