"""Quarters of the financial year in UK time: the one period type the reports count by."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from speakup.platform import clock

_QUARTER_RE = re.compile(r"([0-9]{4})-?Q([1-4])", re.IGNORECASE)  # ASCII digits only, as the API document says

MIN_YEAR, MAX_YEAR = 2000, 2999


class BadQuarter(ValueError):
    """The text is not a quarter such as 2026Q3."""


@dataclass(frozen=True)
class Quarter:
    """A calendar quarter: Q1 is January to March, Q2 April to June, Q3 July to September, Q4 October to
    December.

    Note that the NHS financial year starts in April, so the national data collection's "quarter 1" of
    2026/27 is April to June 2026, which is ``2026Q2`` here. Calendar quarters are kept because the stable
    interface (docs/interface.md) names quarters like ``2026Q3`` with no financial year in them.

    ``start`` and ``end`` are the first and last UK calendar days of the quarter (both inclusive).
    """

    year: int
    number: int

    @property
    def label(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def heading(self) -> str:
        """As a page's heading or a chart's axis shows it: "2026 Q3"."""
        return f"{self.year} Q{self.number}"

    @property
    def start(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> date:
        return self.next().start - timedelta(days=1)

    def next(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)

    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)

    def utc_bounds(self) -> tuple[datetime, datetime]:
        """[from, until) as naive UTC datetimes (how times are stored), for UK midnight at each end."""
        return _uk_midnight_as_utc(self.start), _uk_midnight_as_utc(self.next().start)

    def __str__(self) -> str:
        return self.label


def _uk_midnight_as_utc(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=clock.UK).astimezone(UTC).replace(tzinfo=None)


def parse_quarter(text: str | None) -> Quarter:
    """``"2026Q3"`` (also ``2026q3`` or ``2026-Q3``) as a calendar ``Quarter``; ``BadQuarter`` otherwise."""
    match = _QUARTER_RE.fullmatch((text or "").strip())
    if match is None:
        raise BadQuarter("Enter a quarter as a year and quarter number, for example 2026Q3.")
    year, number = int(match.group(1)), int(match.group(2))
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise BadQuarter(f"Enter a year from {MIN_YEAR} to {MAX_YEAR}, for example 2026Q3.")
    return Quarter(year, number)


def quarter_of(day: date) -> Quarter:
    return Quarter(day.year, (day.month - 1) // 3 + 1)


def previous_quarter(day: date) -> Quarter:
    """The last complete quarter before the one ``day`` is in (the quarter a return is usually made for)."""
    return quarter_of(day).previous()
