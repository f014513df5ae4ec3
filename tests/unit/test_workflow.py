"""Pure unit tests for the status machine (speakup/domain/workflow.py) and the dates a case is due by
(speakup/domain/deadlines/). No app, no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from itertools import product
from zoneinfo import ZoneInfo

import pytest
from support.lifecycle import ALLOWED_PAIRS, STATUSES

from speakup.domain import deadlines, workflow
from speakup.platform import clock

# Written out from the "Case lifecycle" table in docs/interface.md (tests/support/lifecycle.py), independently of
# workflow.TRANSITIONS.
EXPECTED_ALLOWED = ALLOWED_PAIRS

ALL_PAIRS = list(product(STATUSES, STATUSES))


# --- the status machine ---------------------------------------------------------------------------------------


def test_status_constants_match_the_design() -> None:
    assert (
        workflow.RECEIVED,
        workflow.ACKNOWLEDGED,
        workflow.IN_PROGRESS,
        workflow.AWAITING_REPORTER,
        workflow.REFERRED,
        workflow.CLOSED,
    ) == STATUSES
    assert set(workflow.TRANSITIONS) == set(STATUSES)
    assert set(workflow.REPORTER_LABELS) == set(STATUSES)
    assert set(workflow.GUARDIAN_LABELS) == set(STATUSES)


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS, ids=[f"{c}->{t}" for c, t in ALL_PAIRS])
def test_every_transition_is_allowed_or_refused_as_designed(current: str, target: str) -> None:
    assert workflow.can_move(current, target) is ((current, target) in EXPECTED_ALLOWED)


@pytest.mark.parametrize("status", STATUSES)
def test_self_moves_are_refused(status: str) -> None:
    assert workflow.can_move(status, status) is False


@pytest.mark.parametrize("status", STATUSES)
def test_allowed_next_lists_exactly_the_designed_targets(status: str) -> None:
    expected = {target for current, target in EXPECTED_ALLOWED if current == status}
    allowed = workflow.allowed_next(status)
    assert set(allowed) == expected
    assert len(allowed) == len(set(allowed))


def test_exactly_twelve_moves_are_allowed_out_of_thirty_six() -> None:
    assert sum(workflow.can_move(c, t) for c, t in ALL_PAIRS) == 12


@pytest.mark.parametrize("unknown", ["", "open", "Received", "CLOSED", "deleted"])
def test_unknown_statuses_can_move_nowhere_and_nothing_moves_to_them(unknown: str) -> None:
    assert workflow.allowed_next(unknown) == ()
    for status in STATUSES:
        assert workflow.can_move(unknown, status) is False
        assert workflow.can_move(status, unknown) is False


def test_a_reporter_reply_puts_a_waiting_case_back_to_work() -> None:
    assert workflow.status_after_reporter_reply("awaiting_reporter") == "in_progress"


@pytest.mark.parametrize("status", [s for s in STATUSES if s != "awaiting_reporter"])
def test_a_reporter_reply_leaves_every_other_status_alone(status: str) -> None:
    assert workflow.status_after_reporter_reply(status) == status


# --- deadlines ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised_at", "days", "expected"),
    [
        # Month ends (midday UTC, so the UK day is the UTC day in GMT and in BST).
        (datetime(2026, 1, 31, 12, 0), 7, date(2026, 2, 7)),
        (datetime(2026, 4, 30, 12, 0), 7, date(2026, 5, 7)),
        (datetime(2026, 8, 31, 12, 0), 1, date(2026, 9, 1)),
        # Non-leap February (2027) and leap February (2028).
        (datetime(2027, 2, 25, 12, 0), 7, date(2027, 3, 4)),
        (datetime(2028, 2, 25, 12, 0), 7, date(2028, 3, 3)),
        (datetime(2028, 2, 28, 12, 0), 1, date(2028, 2, 29)),
        (datetime(2027, 2, 28, 12, 0), 1, date(2027, 3, 1)),
        (datetime(2028, 2, 29, 12, 0), 90, date(2028, 5, 29)),
        (datetime(2028, 2, 29, 12, 0), 7, date(2028, 3, 7)),
        # Year end.
        (datetime(2026, 12, 28, 12, 0), 7, date(2027, 1, 4)),
        (datetime(2026, 12, 31, 23, 30), 1, date(2027, 1, 1)),  # GMT: still 31 December in the UK
        (datetime(2026, 11, 15, 12, 0), 90, date(2027, 2, 13)),
        # Zero days: the deadline is the UK day it arrived.
        (datetime(2026, 6, 10, 12, 0), 0, date(2026, 6, 10)),
    ],
)
def test_due_date_counts_calendar_days(raised_at: datetime, days: int, expected: date) -> None:
    assert deadlines.due_date(raised_at, days) == expected


# BST 2026 starts on Sunday 29 March at 01:00 UTC and ends on Sunday 25 October at 01:00 UTC.
@pytest.mark.parametrize(
    ("raised_at", "uk_day"),
    [
        # The night before the clocks go forward: still GMT, 23:30 on 28 March.
        (datetime(2026, 3, 28, 23, 30), date(2026, 3, 28)),
        # Either side of the change itself.
        (datetime(2026, 3, 29, 0, 59), date(2026, 3, 29)),
        (datetime(2026, 3, 29, 1, 0), date(2026, 3, 29)),
        # The evening of the change: already BST, 00:30 on 30 March.
        (datetime(2026, 3, 29, 22, 59), date(2026, 3, 29)),
        (datetime(2026, 3, 29, 23, 0), date(2026, 3, 30)),
        (datetime(2026, 3, 29, 23, 30), date(2026, 3, 30)),
        # 23:30 UTC on 31 March is 00:30 BST on 1 April.
        (datetime(2026, 3, 31, 23, 30), date(2026, 4, 1)),
        # The night before the clocks go back: BST, 00:30 on 25 October.
        (datetime(2026, 10, 24, 22, 59), date(2026, 10, 24)),
        (datetime(2026, 10, 24, 23, 30), date(2026, 10, 25)),
        # The repeated hour 01:00-02:00 on 25 October (first BST, then GMT) is the same UK day.
        (datetime(2026, 10, 25, 0, 30), date(2026, 10, 25)),
        (datetime(2026, 10, 25, 1, 30), date(2026, 10, 25)),
        # The evening after: GMT again, 23:30 on 25 October.
        (datetime(2026, 10, 25, 23, 30), date(2026, 10, 25)),
        # Winter: GMT, 23:30 UTC is still the same day.
        (datetime(2026, 1, 15, 23, 30), date(2026, 1, 15)),
        (datetime(2026, 1, 31, 23, 59, 59), date(2026, 1, 31)),
        # Summer: BST, 23:00 UTC is already tomorrow.
        (datetime(2026, 7, 14, 23, 0), date(2026, 7, 15)),
        (datetime(2026, 7, 14, 22, 59, 59), date(2026, 7, 14)),
    ],
)
def test_deadlines_count_from_the_uk_day_the_concern_arrived(raised_at: datetime, uk_day: date) -> None:
    assert clock.uk_date(raised_at) == uk_day
    assert deadlines.due_date(raised_at, 0) == uk_day
    assert deadlines.acknowledge_by(raised_at, 7) == uk_day + timedelta(days=7)
    assert deadlines.feedback_by(raised_at, 90) == uk_day + timedelta(days=90)


def test_bst_start_examples_from_the_brief() -> None:
    assert deadlines.acknowledge_by(datetime(2026, 3, 28, 23, 30), 7) == date(2026, 4, 4)
    assert deadlines.acknowledge_by(datetime(2026, 3, 29, 23, 30), 7) == date(2026, 4, 6)


def test_a_concern_just_before_midnight_utc_on_31_march_is_acknowledged_by_8_april() -> None:
    raised_at = datetime(2026, 3, 31, 23, 30)
    assert deadlines.acknowledge_by(raised_at, 7) == date(2026, 4, 8)
    assert deadlines.feedback_by(raised_at, 90) == date(2026, 6, 30)


def test_the_same_time_in_january_stays_on_the_same_day() -> None:
    raised_at = datetime(2026, 1, 31, 23, 30)
    assert deadlines.acknowledge_by(raised_at, 7) == date(2026, 2, 7)
    assert deadlines.feedback_by(raised_at, 90) == date(2026, 5, 1)


def test_acknowledge_by_and_feedback_by_use_their_own_day_counts() -> None:
    raised_at = datetime(2026, 5, 1, 9, 0)
    assert deadlines.acknowledge_by(raised_at, 7) == date(2026, 5, 8)
    assert deadlines.acknowledge_by(raised_at, 3) == date(2026, 5, 4)
    assert deadlines.feedback_by(raised_at, 90) == date(2026, 7, 30)
    assert deadlines.feedback_by(raised_at, 30) == date(2026, 5, 31)


def test_uk_time_reads_naive_times_as_utc() -> None:
    winter = clock.uk_time(datetime(2026, 1, 15, 23, 30))
    assert (winter.date(), winter.hour, winter.minute) == (date(2026, 1, 15), 23, 30)
    assert winter.utcoffset() == timedelta(0)
    summer = clock.uk_time(datetime(2026, 7, 14, 23, 30))
    assert (summer.date(), summer.hour, summer.minute) == (date(2026, 7, 15), 0, 30)
    assert summer.utcoffset() == timedelta(hours=1)


@pytest.mark.parametrize(
    "aware",
    [
        datetime(2026, 3, 31, 23, 30, tzinfo=UTC),
        datetime(2026, 4, 1, 0, 30, tzinfo=ZoneInfo("Europe/London")),
        datetime(2026, 4, 1, 1, 30, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 3, 31, 18, 30, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_uk_time_accepts_aware_datetimes(aware: datetime) -> None:
    # Every one of these is the same instant: 23:30 UTC on 31 March 2026.
    london = clock.uk_time(aware)
    assert london.utcoffset() == timedelta(hours=1)
    assert (london.date(), london.hour, london.minute) == (date(2026, 4, 1), 0, 30)
    assert london == aware
    assert clock.uk_date(aware) == date(2026, 4, 1)
    assert deadlines.acknowledge_by(aware, 7) == date(2026, 4, 8)


def test_aware_and_naive_utc_give_the_same_deadlines() -> None:
    start = datetime(2026, 1, 1, 0, 15)
    for step in range(0, 366 * 24, 7):  # every 7 hours through 2026, so every hour of the day is hit
        naive = start + timedelta(hours=step)
        aware = naive.replace(tzinfo=UTC)
        assert deadlines.due_date(naive, 7) == deadlines.due_date(aware, 7)


def _uk_offset_2026(naive_utc: datetime) -> timedelta:
    """BST in 2026, written out by hand: from 01:00 UTC on 29 March to 01:00 UTC on 25 October."""
    in_bst = datetime(2026, 3, 29, 1, 0) <= naive_utc < datetime(2026, 10, 25, 1, 0)
    return timedelta(hours=1) if in_bst else timedelta(0)


def test_due_date_agrees_with_a_hand_written_uk_clock_through_2026() -> None:
    # A property check without Hypothesis (not a project dependency): every 20 minutes of 2026.
    start = datetime(2026, 1, 1, 0, 0)
    for step in range(0, 365 * 24 * 3):
        raised_at = start + timedelta(minutes=20 * step)
        uk_day = (raised_at + _uk_offset_2026(raised_at)).date()
        assert deadlines.due_date(raised_at, 7) == uk_day + timedelta(days=7), raised_at


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("received", date(2026, 4, 8)),
        ("acknowledged", date(2026, 6, 30)),
        ("in_progress", date(2026, 6, 30)),
        ("awaiting_reporter", date(2026, 6, 30)),
        ("referred", date(2026, 6, 30)),
        ("closed", None),
    ],
)
def test_next_due_follows_the_status(status: str, expected: date | None) -> None:
    assert deadlines.next_due(status, date(2026, 4, 8), date(2026, 6, 30)) == expected


def test_next_due_covers_every_status() -> None:
    for status in STATUSES:
        result = deadlines.next_due(status, date(2026, 1, 1), date(2026, 3, 1))
        assert result == {"received": date(2026, 1, 1), "closed": None}.get(status, date(2026, 3, 1))


DUE = date(2026, 4, 8)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 3, 1), "due"),
        (date(2026, 4, 5), "due"),  # three days before
        (date(2026, 4, 6), "due_soon"),  # two days before
        (date(2026, 4, 7), "due_soon"),  # the day before
        (date(2026, 4, 8), "due_soon"),  # the due day itself
        (date(2026, 4, 9), "overdue"),  # the day after
        (date(2027, 1, 1), "overdue"),
    ],
)
def test_deadline_state_at_the_edges(today: date, expected: str) -> None:
    assert deadlines.deadline_state(DUE, today, soon_days=2) == expected


def test_deadline_state_across_a_month_end() -> None:
    due = date(2026, 3, 1)
    assert deadlines.deadline_state(due, date(2026, 2, 26), soon_days=2) == "due"
    assert deadlines.deadline_state(due, date(2026, 2, 27), soon_days=2) == "due_soon"
    assert deadlines.deadline_state(due, date(2026, 3, 1), soon_days=2) == "due_soon"
    assert deadlines.deadline_state(due, date(2026, 3, 2), soon_days=2) == "overdue"


def test_deadline_state_respects_soon_days() -> None:
    assert deadlines.deadline_state(DUE, date(2026, 4, 1), soon_days=7) == "due_soon"
    assert deadlines.deadline_state(DUE, date(2026, 3, 31), soon_days=7) == "due"
    assert deadlines.deadline_state(DUE, date(2026, 4, 7), soon_days=0) == "due"
    assert deadlines.deadline_state(DUE, date(2026, 4, 8), soon_days=0) == "due_soon"


@pytest.mark.parametrize("today", [date(2020, 1, 1), DUE, date(2030, 12, 31)])
def test_deadline_state_is_none_without_a_deadline(today: date) -> None:
    assert deadlines.deadline_state(None, today, soon_days=2) is None


def test_deadline_labels_cover_every_state() -> None:
    assert set(deadlines.DEADLINE_LABELS) == {"overdue", "due_soon", "due"}
