"""Bar charts as page models (pure): what each bar says in words, how long it is, and how it is drawn.

The template draws each chart as HTML, its bars as small inline SVGs without a viewBox, so no text is ever scaled
down with the picture: every word and number is page text at the stylesheet's size, read by screen readers, and
printed. Each bar carries its series' name and value beside it (direct labels), so no series is told apart by colour
alone; the colours are also chosen to stay apart under every kind of colour blindness
(``tests/unit/test_chart_colours.py``). A count the suppression rule hid is drawn as a hatched, outlined bar labelled
with the same "<5" as the tables, never left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from speakup.platform.translation import gettext as _
from speakup.platform.translation import ngettext

# One colour per series, in order: NHS blue, vermilion, reddish purple, near black. Each is at least 3:1 against the
# white page, and any two stay at least 20 apart (CIELAB) as people with protanopia, deuteranopia or tritanopia see
# them (Machado, Oliveira and Fernandes 2009). A chart has at most four series.
PALETTE = ("#005eb8", "#d55e00", "#cc79a7", "#212b32")
HATCH = "speakup-hatch"  # the id of the pattern hidden bars are filled with (drawn once on the page)


@dataclass(frozen=True)
class Series:
    label: str
    colour: str


@dataclass(frozen=True)
class Bar:
    """One value of one series: ``text`` is what is written beside it; ``length`` is its percentage of the scale."""

    series: Series
    text: str
    length: float
    hidden: bool = False  # suppressed: drawn hatched to the threshold, written as the tables write it
    target: float | None = None  # where a target line crosses this bar's track, as a percentage of the scale


@dataclass(frozen=True)
class Group:
    label: str  # the quarter
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Tick:
    text: str
    at: float  # percentage of the scale

    @property
    def anchor(self) -> str:
        """Where the tick's text hangs from its place: the first and the last stay inside the track."""
        return "start" if self.at == 0 else "end" if self.at == 100 else "middle"


@dataclass(frozen=True)
class Chart:
    key: str  # the section's id on the page, and the chart's name in tests
    title: str
    unit: str  # what the scale counts ("concerns", "days"), in the page's language
    series: tuple[Series, ...]
    groups: tuple[Group, ...]
    ticks: tuple[Tick, ...]
    hidden_label: str = ""  # the label hidden counts carry, when any bar is hidden
    suppress_below: int = 0  # the threshold a hidden count is drawn up to
    targets: tuple[str, ...] = ()  # the targets the dashed lines mark, in words

    @property
    def hidden(self) -> int:
        return sum(bar.hidden for group in self.groups for bar in group.bars)


def whole_number_steps(values: Sequence[int | None], most: int = 10) -> list[int]:
    """The scale of a chart of counts: 0 up to at least the largest count, in steps of 1, 2 or 5 times a power
    of ten, at most about ``most`` of them, so no scale ever marks half a concern."""
    top = max((value for value in values if value is not None), default=0)
    step = 1
    while True:
        for factor in (1, 2, 5):
            if top <= factor * step * most:
                step *= factor
                last = max(-(-top // step) * step, step)  # round up to a whole step, and never a 0-high axis
                return list(range(0, last + 1, step))
        step *= 10


# Few enough marks on the scale that their numbers never overlap in the narrowest track (320 px screens).
SCALE_MARKS = 4


def _scale(tops: Sequence[int]) -> tuple[int, tuple[Tick, ...]]:
    steps = whole_number_steps(list(tops), SCALE_MARKS)
    top = steps[-1]
    return top, tuple(Tick(str(step), round(100 * step / top, 2)) for step in steps)


def _series(labels: Sequence[str]) -> tuple[Series, ...]:
    if len(labels) > len(PALETTE):
        raise ValueError(f"a chart draws at most {len(PALETTE)} series")
    return tuple(Series(label, colour) for label, colour in zip(labels, PALETTE, strict=False))


def count_chart(
    key: str,
    title: str,
    unit: str,
    quarters: Sequence[str],
    series: Sequence[tuple[str, Sequence[int | str]]],
    suppress_below: int,
) -> Chart:
    """Counts per quarter as the tables show them: an int, or the suppression label (a str), which is drawn hatched
    up to the threshold. The scale is drawn from the shown counts and the threshold alone, so its top never hints at
    a hidden count."""
    drawn = _series([label for label, _values in series])
    shown = [value for _label, values in series for value in values]
    hidden_label = next((value for value in shown if isinstance(value, str)), "")
    tops = [value for value in shown if isinstance(value, int)] + ([suppress_below] if hidden_label else [])
    top, ticks = _scale(tops)
    groups = []
    for index, quarter in enumerate(quarters):
        bars = []
        for line, (_label, values) in zip(drawn, series, strict=True):
            value = values[index]
            if isinstance(value, str):
                bars.append(
                    Bar(line, _("%(value)s (hidden)", value=value), round(100 * suppress_below / top, 2), hidden=True)
                )
            else:
                bars.append(Bar(line, str(value), round(100 * value / top, 2)))
        groups.append(Group(quarter, tuple(bars)))
    return Chart(key, title, unit, drawn, tuple(groups), ticks, hidden_label, suppress_below)


def days_chart(
    key: str,
    title: str,
    quarters: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None], int]],
) -> Chart:
    """Median days per quarter, each series against its target (a dashed line across its bars). No value is a
    count, so nothing here is suppressed; a quarter with none yet says so and draws no bar."""
    drawn = _series([label for label, _values, _target in series])
    tops = [math.ceil(value) for _label, values, _target in series for value in values if value is not None]
    top, ticks = _scale(tops + [target for _label, _values, target in series])
    groups = []
    for index, quarter in enumerate(quarters):
        bars = []
        for line, (_label, values, target) in zip(drawn, series, strict=True):
            value = values[index]
            at = round(100 * target / top, 2)
            if value is None:
                bars.append(Bar(line, _("None yet"), 0, target=at))
            else:
                bars.append(Bar(line, _("%(value)s days", value=value), round(100 * value / top, 2), target=at))
        groups.append(Group(quarter, tuple(bars)))
    targets = tuple(
        ngettext("%(label)s: %(num)d day", "%(label)s: %(num)d days", target, label=label)
        for label, _values, target in series
    )
    return Chart(key, title, _("days"), drawn, tuple(groups), ticks, targets=targets)
