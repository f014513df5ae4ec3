"""The one clock (speakup/platform/clock.py): tests can set it, it tells UK days, and nothing else reads the time."""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType

from speakup.platform import clock

PACKAGE = Path(__file__).resolve().parents[2] / "speakup"
CLOCK = PACKAGE / "platform" / "clock.py"

# (module, attribute) calls that read the machine's time of day or calendar.
READS_THE_TIME = {
    ("date", "today"),
    ("datetime", "today"),
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("time", "time"),
}
# Rate-limit windows are the limits library's, which keeps time by time.time(): a Retry-After counted on any other
# clock (one a test set on) would be wrong. Not the calendar.
ALLOWED = {("speakup/web/errors.py", "time.time")}


def test_a_frozen_clock_stands_still_until_moved(frozen_clock: ModuleType) -> None:
    frozen_clock.freeze(datetime(2026, 3, 31, 23, 30))
    assert clock.utcnow() == clock.utcnow() == datetime(2026, 3, 31, 23, 30)
    assert clock.minute_now() == datetime(2026, 3, 31, 23, 30)
    frozen_clock.advance(timedelta(seconds=90))
    assert clock.utcnow() == datetime(2026, 3, 31, 23, 31, 30)
    assert clock.timestamp() == datetime(2026, 3, 31, 23, 31, 30, tzinfo=UTC).timestamp()


def test_an_aware_time_is_frozen_as_utc(frozen_clock: ModuleType) -> None:
    frozen_clock.freeze(datetime(2026, 7, 1, 0, 30, tzinfo=clock.UK))
    assert clock.utcnow() == datetime(2026, 6, 30, 23, 30)


def test_the_uk_day_is_not_the_utc_day_in_summer(frozen_clock: ModuleType) -> None:
    frozen_clock.freeze(datetime(2026, 3, 31, 23, 30))  # BST began on 29 March: already 1 April in the UK
    assert clock.uk_today() == date(2026, 4, 1)
    frozen_clock.freeze(datetime(2026, 1, 15, 23, 30))  # GMT: the same day
    assert clock.uk_today() == date(2026, 1, 15)


def test_a_running_clock_set_on_stays_ahead_until_reset() -> None:
    before = clock.utcnow()
    clock.advance(timedelta(hours=1))
    try:
        assert clock.utcnow() - before >= timedelta(hours=1)
    finally:
        clock.reset()
    assert clock.utcnow() - before < timedelta(hours=1)


def test_the_minute_drops_seconds(frozen_clock: ModuleType) -> None:
    frozen_clock.freeze(datetime(2026, 5, 4, 10, 11, 12, 131415))
    assert clock.minute_now() == datetime(2026, 5, 4, 10, 11)


def _time_reads(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
        if (name, node.func.attr) in READS_THE_TIME:
            found.append(f"{name}.{node.func.attr}")
    return found


def test_no_module_but_the_clock_reads_the_time() -> None:
    readers = {
        (str(path.relative_to(PACKAGE.parent)), call)
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != CLOCK and PACKAGE / "migrations" not in path.parents
        for call in _time_reads(path)
    }
    assert readers == ALLOWED
    assert _time_reads(CLOCK) == ["datetime.now"], "the scan no longer sees the clock's own read"
