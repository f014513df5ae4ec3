"""Quarters in UK time: the one period type the reports count by, named by the calendar (2026Q3, as the command line
and the API take them) or by the NHS financial year (2026/27 Q2, as NHS England's quarterly Freedom to Speak Up
collection and the guardians' pages name them). Both name the same three months."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from speakup.platform import clock
from speakup.platform.dates import MONTHS
from speakup.platform.translation import gettext as _

_QUARTER_RE = re.compile(r"([0-9]{4})-?Q([1-4])", re.IGNORECASE)  # ASCII digits only, as the API document says
_FINANCIAL_RE = re.compile(r"([0-9]{4})/([0-9]{2}) ?Q([1-4])", re.IGNORECASE)

MIN_YEAR, MAX_YEAR = 2000, 2999


class BadQuarter(ValueError):
    """The text is not a quarter such as 2026Q3 or 2026/27 Q2."""


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
    def financial_heading(self) -> str:
        """The NHS financial year's name for it: "2026/27 Q2" is July to September 2026 (the year starts in April)."""
        first_year = self.year if self.number > 1 else self.year - 1
        number = self.number - 1 if self.number > 1 else 4
        return f"{first_year}/{(first_year + 1) % 100:02d} Q{number}"

    @property
    def months(self) -> str:
        """ "July to September 2026": what a person choosing a quarter reads beside its name."""
        first, last = MONTHS[self.start.month - 1], MONTHS[self.end.month - 1]
        return _("%(first)s to %(last)s %(year)s", first=first, last=last, year=self.year)

    def has_ended(self, today: date) -> bool:
        """Whether the quarter's last UK day is over on ``today``."""
        return today > self.end

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
    """``"2026Q3"`` (also ``2026q3`` or ``2026-Q3``) as a calendar ``Quarter``, or the financial year's name for the
    same months, ``"2026/27 Q2"`` (also ``2026/27Q2``); ``BadQuarter`` otherwise."""
    cleaned = (text or "").strip()
    financial = _FINANCIAL_RE.fullmatch(cleaned)
    if financial is not None:
        first_year, second, number = int(financial.group(1)), int(financial.group(2)), int(financial.group(3))
        if second != (first_year + 1) % 100:
            raise BadQuarter(
                _(
                    "A financial year runs into the next calendar year, for example 2026Q3 (July to September 2026), "
                    "or by the NHS financial year, 2026/27 Q2."
                )
            )
        year, number = (first_year, number + 1) if number < 4 else (first_year + 1, 1)
    else:
        match = _QUARTER_RE.fullmatch(cleaned)
        if match is None:
            raise BadQuarter(
                _(
                    "Enter a quarter as a year and quarter number, for example 2026Q3 (July to September 2026), or "
                    "by the NHS financial year, 2026/27 Q2."
                )
            )
        year, number = int(match.group(1)), int(match.group(2))
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise BadQuarter(
            _(
                "Enter a quarter from %(first)s to %(last)s, for example 2026Q3 (July to September 2026), or by the "
                "NHS financial year, 2026/27 Q2.",
                first=MIN_YEAR,
                last=MAX_YEAR,
            )
        )
    return Quarter(year, number)


def quarter_of(day: date) -> Quarter:
    return Quarter(day.year, (day.month - 1) // 3 + 1)


def ended_quarters(today: date, count: int) -> list[Quarter]:
    """The ``count`` quarters that have ended by ``today``, newest first: what the guardians' pages offer."""
    offered = [quarter_of(today).previous()]
    while len(offered) < count:
        offered.append(offered[-1].previous())
    return offered


def previous_quarter(day: date) -> Quarter:
    """The last complete quarter before the one ``day`` is in (the quarter a return is usually made for)."""
    return quarter_of(day).previous()
