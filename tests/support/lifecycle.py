"""The case lifecycle as docs/interface.md ("Case lifecycle") writes it: written here once, independently of
speakup.domain.workflow's own table, for the unit, database and page tests to check that table against."""

from __future__ import annotations

STATUSES = ("received", "acknowledged", "in_progress", "awaiting_reporter", "referred", "closed")

# Where a guardian may move a case from each status.
DESIGNED_MOVES = {
    "received": ("acknowledged", "closed"),
    "acknowledged": ("in_progress", "closed"),
    "in_progress": ("awaiting_reporter", "referred", "closed"),
    "awaiting_reporter": ("in_progress", "closed"),
    "referred": ("in_progress", "closed"),
    "closed": ("in_progress",),
}
ALLOWED_PAIRS = {(start, target) for start, targets in DESIGNED_MOVES.items() for target in targets}

OPEN = [status for status in STATUSES if status != "closed"]
# Moves through the status form (closing has a form of its own): allowed, and refused.
ALLOWED = [(start, target) for start, targets in DESIGNED_MOVES.items() for target in targets if target != "closed"]
REFUSED = [(start, target) for start in STATUSES for target in OPEN if target not in DESIGNED_MOVES[start]]

# The status-form steps that bring a new case to each open status.
ROUTE = {
    "received": (),
    "acknowledged": ("acknowledged",),
    "in_progress": ("acknowledged", "in_progress"),
    "awaiting_reporter": ("acknowledged", "in_progress", "awaiting_reporter"),
    "referred": ("acknowledged", "in_progress", "referred"),
}

REPORTER_LABELS = {
    "received": "Received – waiting for a guardian",
    "acknowledged": "A guardian has seen your concern",
    "in_progress": "Being looked into",
    "awaiting_reporter": "Waiting for your reply",
    "referred": "Passed to the team who can act on it",
    "closed": "Closed",
}
GUARDIAN_LABELS = {
    "received": "Received",
    "acknowledged": "Acknowledged",
    "in_progress": "In progress",
    "awaiting_reporter": "Awaiting reporter",
    "referred": "Referred",
    "closed": "Closed",
}
