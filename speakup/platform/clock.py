"""The one clock: what time it is, and what day it is in the UK.

Times are stored in UTC, naive (the columns carry no zone); deadlines, quarters and everything a person reads are
UK calendar days (Europe/London, so a concern raised at 23:30 UTC in summer arrived the next day). Every module
asks this one for the time, so tests can set it (``freeze``, ``advance``) instead of sleeping or racing midnight,
and TOTP codes are checked against the same time the tests compute them from. Pure Python: any layer may import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")


@dataclass
class _Setting:
    # Set only by tests: a fixed time, or how far the clock runs ahead of the real one.
    frozen: datetime | None = None
    ahead: timedelta = timedelta(0)


_setting = _Setting()


def utcnow() -> datetime:
    """Now, in UTC, naive: how every row is stamped."""
    if _setting.frozen is not None:
        return _setting.frozen
    return datetime.now(UTC).replace(tzinfo=None) + _setting.ahead


def minute_now() -> datetime:
    """The time of something a reporter did, or of a sent form: to the minute, which is all any rule needs (the
    deadlines and the national return count days). A finer time would help link a concern to the person who was
    at a computer at that second (issue 24)."""
    return utcnow().replace(second=0, microsecond=0)


def timestamp() -> float:
    """Now, in seconds since the epoch: what TOTP codes are made and checked against."""
    return utcnow().replace(tzinfo=UTC).timestamp()


def uk_time(moment: datetime) -> datetime:
    """A stored (naive UTC) or aware datetime, as a UK wall-clock time."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UK)


def uk_date(moment: datetime) -> date:
    """The UK calendar day a moment fell on."""
    return uk_time(moment).date()


def uk_today() -> date:
    return uk_date(utcnow())


# --- For tests --------------------------------------------------------------------------------------


def freeze(at: datetime) -> None:
    """Stops the clock at ``at`` (naive UTC, or aware)."""
    _setting.frozen = at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def advance(by: timedelta) -> None:
    """Moves the clock on by ``by``: a frozen clock stays frozen there, a running one runs that far ahead."""
    if _setting.frozen is not None:
        _setting.frozen += by
    else:
        _setting.ahead += by


def reset() -> None:
    """The real time again."""
    _setting.frozen, _setting.ahead = None, timedelta(0)
