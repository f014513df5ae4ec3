"""The board report: what people spoke up about, how fast guardians answered, and whether people
would speak up again. Plain counted fields only (no keys needed), small numbers suppressed.

Charts are drawn by pygal as SVG on the server, so the report needs no JavaScript; every chart has
a table with the same figures for screen readers and for print.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import cast

import pygal
from pygal.style import Style
from sqlalchemy import select

from speakup.crypto import labels, sealing
from speakup.domain import characteristics
from speakup.domain.categories import CHANNELS, REFERRALS, lists_for
from speakup.domain.quarters import Quarter, quarter_of
from speakup.keys import grants
from speakup.platform import clock
from speakup.platform.config import settings
from speakup.platform.models import Case, CaseGrant, CaseTheme, GrantRecipient, db
from speakup.reporting.suppression import FEEDBACK_RESPONSES, FEEDBACK_YES, Measure, suppress

# NHS.UK palette: blue, dark blue, green, warm yellow, grey.
_STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#212b32",
    foreground_strong="#212b32",
    foreground_subtle="#4c6272",
    colors=("#005eb8", "#003087", "#007f3b", "#ffb81c", "#768692", "#ae2573"),
    font_family="Arial, sans-serif",
)


@dataclass(frozen=True)
class QuarterRow:
    label: str
    quarter: Quarter
    raised: int
    anonymous: int
    themes: dict[str, int]
    median_days_to_acknowledge: float | None
    median_days_to_close: float | None
    feedback_answers: int
    would_speak_up_again: int
    detriment: int
    channels: dict[str, int] = field(default_factory=dict)  # how the quarter's concerns were raised
    referrals: dict[str, int] = field(default_factory=dict)  # who the quarter's referred concerns went to
    detriment_after_closure: int = 0  # told a check-in after closing they suffered detriment
    # The voluntary answers about the people who spoke up, counted apart from any case, as far as
    # characteristics.countable lets them be shown: "question:answer" -> count, only for the questions in
    # ``characteristics_enough`` and only once the quarter has ended (``characteristics_ended``).
    characteristics: dict[str, int] = field(default_factory=dict)
    characteristics_ended: bool = False
    characteristics_enough: frozenset[str] = frozenset()
    # Every count as it may be shown, by the national return's one suppression rule (reports.suppress): a count,
    # or the suppression label. Keys: "raised", "anonymous", "theme:<theme>", "feedback", "yes", "detriment",
    # "channel:<channel>", "referral:<who>", "about:<question>:<answer>".
    shown: dict[str, int | str] = field(default_factory=dict)


@dataclass(frozen=True)
class BoardReport:
    quarters: list[QuarterRow]
    theme_labels: dict[str, str]
    channel_labels: dict[str, str]
    referral_labels: dict[str, str]
    questions: tuple[characteristics.Question, ...]
    ack_days: int
    feedback_days: int
    suppress_below: int
    characteristics_min_answers: int = characteristics.MIN_ANSWERS

    @property
    def characteristic_rows(self) -> int:
        """How many answer rows the characteristics table has: what "counted when the quarter ends" spans."""
        return sum(len(question.answers) for question in self.questions)


def _suppressed(row: QuarterRow, below: int) -> dict[str, int | str]:
    """The quarter's counts through the same rule as the national return, so the board never shows what the
    return hides: a small count, or one that subtraction would reveal (feedback answers minus "yes")."""
    measures = [
        Measure("raised", "Cases raised", row.raised),
        Measure("anonymous", "Raised anonymously", row.anonymous),
        *[Measure(f"theme:{theme}", theme, count) for theme, count in row.themes.items()],
        Measure(FEEDBACK_RESPONSES, "Answered", row.feedback_answers),
        Measure(FEEDBACK_YES, "Would speak up again", row.would_speak_up_again),
        Measure("detriment", "Reported detriment", row.detriment),
        Measure("detriment_after_closure", "Reported detriment after closing", row.detriment_after_closure),
        # Every concern was raised one way: these add up to "raised", so none may be worked out from the rest.
        *[Measure(f"channel:{channel}", channel, count, part_of="raised") for channel, count in row.channels.items()],
        *[Measure(f"referral:{to}", to, count) for to, count in row.referrals.items()],
        # Only what characteristics.countable allows is here. Not everyone answers and "prefer not to say" is not
        # counted, so a question's answers add up to nothing that is shown: no part_of.
        *[Measure(f"about:{answer}", answer, count) for answer, count in row.characteristics.items()],
    ]
    shown = {m.key: m.value for m in suppress(measures, below)}
    shown["feedback"], shown["yes"] = shown.pop(FEEDBACK_RESPONSES), shown.pop(FEEDBACK_YES)
    return shown


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def board_report(
    today: date,
    quarters: int,
    ack_days: int,
    feedback_days: int,
    suppress_below: int,
    characteristics_min_answers: int = characteristics.MIN_ANSWERS,
) -> BoardReport:
    """The last ``quarters`` calendar quarters up to today, oldest first."""
    wanted = [quarter_of(today)]
    while len(wanted) < quarters:
        wanted.insert(0, wanted[0].previous())
    first = wanted[0].start
    themes = lists_for(today).themes
    rows = db.session.execute(
        select(
            Case.id,
            Case.created_at,
            Case.anonymity,
            Case.acknowledged_at,
            Case.closed_at,
            Case.speak_up_again,
            Case.detriment_reported,
            Case.channel,
            Case.referred_to,
            Case.detriment_after_closure,
        ).where(Case.created_at >= first)
    ).all()
    theme_rows = db.session.execute(
        select(CaseTheme.case_id, CaseTheme.theme)
        .join(Case, Case.id == CaseTheme.case_id)
        .where(Case.created_at >= first)
    ).all()
    themes_of: dict[int, list[str]] = {}
    for case_id, theme in theme_rows:
        themes_of.setdefault(case_id, []).append(theme)
    buckets: dict[Quarter, list] = {key: [] for key in wanted}
    for row in rows:
        key = quarter_of(clock.uk_date(row.created_at))
        if key in buckets:
            buckets[key].append(row)
    about = characteristics.countable(wanted, today, characteristics_min_answers)
    result = []
    for period, cases in buckets.items():
        theme_counts = dict.fromkeys(themes, 0)
        for case in cases:
            for theme in themes_of.get(case.id, []):
                if theme in theme_counts:
                    theme_counts[theme] += 1
        answered = [c for c in cases if c.speak_up_again]
        result.append(
            QuarterRow(
                label=period.heading,
                quarter=period,
                raised=len(cases),
                anonymous=sum(1 for c in cases if c.anonymity == "anonymous"),
                themes=theme_counts,
                median_days_to_acknowledge=_median(
                    [(c.acknowledged_at - c.created_at).total_seconds() / 86400 for c in cases if c.acknowledged_at]
                ),
                median_days_to_close=_median(
                    [(c.closed_at - c.created_at).total_seconds() / 86400 for c in cases if c.closed_at]
                ),
                feedback_answers=len(answered),
                would_speak_up_again=sum(1 for c in answered if c.speak_up_again == "yes"),
                detriment=sum(1 for c in cases if c.detriment_reported),
                channels={channel: sum(1 for c in cases if c.channel == channel) for channel in CHANNELS},
                referrals={to: sum(1 for c in cases if c.referred_to == to) for to in REFERRALS},
                detriment_after_closure=sum(1 for c in cases if c.detriment_after_closure),
                characteristics={f"{q}:{a}": count for (q, a), count in about[period.label].counts.items()},
                characteristics_ended=about[period.label].ended,
                characteristics_enough=about[period.label].enough,
            )
        )
    result = [replace(row, shown=_suppressed(row, suppress_below)) for row in result]
    questions = characteristics.questions_for(today)
    return BoardReport(
        result,
        themes,
        CHANNELS,
        REFERRALS,
        questions,
        ack_days,
        feedback_days,
        suppress_below,
        characteristics_min_answers,
    )


def _bars(report: BoardReport, key: str) -> list[int | None]:
    # A chart cannot say "<5": suppressed values are left out of the bar (the table says "<5").
    return [value if isinstance(value := q.shown[key], int) else None for q in report.quarters]


def _chart(chart_class, title: str, labels: list[str], y_title: str, **options) -> pygal.Graph:
    chart = chart_class(
        style=_STYLE,
        title=title,
        x_title="Quarter",
        y_title=y_title,
        disable_xml_declaration=True,
        js=[],  # nothing to run: the chart is a picture
        show_legend=True,
        legend_at_bottom=True,
        print_values=False,
        width=800,
        height=420,
        **options,
    )
    chart.x_labels = labels
    return chart


def whole_number_steps(values: list[int | None], most: int = 10) -> list[int]:
    """The value axis of a chart of counts: 0 up to at least the largest count, in steps of 1, 2 or 5 times a power
    of ten, at most about ``most`` of them. pygal's own scale would label 0.5 of a concern when counts are small."""
    top = max((value for value in values if value is not None), default=0)
    step = 1
    while True:
        for factor in (1, 2, 5):
            if top <= factor * step * most:
                step *= factor
                last = max(-(-top // step) * step, step)  # round up to a whole step, and never a 0-high axis
                return list(range(0, last + 1, step))
        step *= 10


def _count_series(report: BoardReport, name: str) -> tuple[str, str, list[tuple[str, list[int | None]]]]:
    """A chart of counts: its title, its value axis title, and each series."""
    if name == "themes":
        themes = [(label, _bars(report, f"theme:{theme}")) for theme, label in report.theme_labels.items()]
        return "Concerns by theme", "Concerns", themes
    if name == "anonymous":
        return (
            "Concerns raised, and how many anonymously",
            "Concerns",
            [("All concerns", _bars(report, "raised")), ("Raised anonymously", _bars(report, "anonymous"))],
        )
    if name == "feedback":
        return (
            "Would you speak up again?",
            "Answers",
            [
                ("Answered", _bars(report, "feedback")),
                ("Would speak up again", _bars(report, "yes")),
                ("Reported detriment", _bars(report, "detriment")),
            ],
        )
    raise KeyError(name)


def chart_svg(report: BoardReport, name: str) -> str:
    labels = [q.label for q in report.quarters]
    if name == "timeliness":
        # Days, not counts: a median may be 2.5 days, so pygal's own scale is right here.
        chart = _chart(pygal.Line, "Median days to acknowledge and to close", labels, "Days")
        chart.add("To acknowledge", [q.median_days_to_acknowledge for q in report.quarters])
        chart.add(f"Acknowledge target ({report.ack_days} days)", [report.ack_days] * len(labels))
        chart.add("To close", [q.median_days_to_close for q in report.quarters])
        chart.add(f"Feedback target ({report.feedback_days} days)", [report.feedback_days] * len(labels))
    else:
        title, y_title, series = _count_series(report, name)
        chart = _chart(pygal.Bar, title, labels, y_title)
        for label, values in series:
            chart.add(label, values)
        # From the counts as shown (a hidden one is None), so the axis's top never hints at a hidden count.
        chart.y_labels = whole_number_steps([value for _label, values in series for value in values])
    svg = chart.render(is_unicode=True)
    # A picture only: no script (pygal adds a config one for its interactive mode) and no comments
    # pointing elsewhere.
    return _SCRIPT_OR_COMMENT.sub("", svg)


_SCRIPT_OR_COMMENT = re.compile(r"<script\b.*?</script>|<!--.*?-->", re.S)

CHARTS = ("themes", "anonymous", "timeliness", "feedback")


@dataclass(frozen=True)
class Learning:
    themes: tuple[str, ...]
    closed_on: date
    text: str


def shared_learning(
    user_id: int, open_case_key: Callable[[Case], bytes], since: date, limit: int = 200
) -> dict[str, list[Learning]]:
    """ "You said, we did": learning guardians chose to share, grouped by theme, newest first.

    The text is sealed with each case, so it is opened with the viewing guardian's own key, and only
    for cases they hold; the board never needs a key of its own.
    """
    held = select(CaseGrant.case_id).where(CaseGrant.recipient == GrantRecipient.GUARDIAN, CaseGrant.user_id == user_id)
    cases = db.session.scalars(
        select(Case)
        .where(Case.learning_shareable.is_(True), Case.closed_at >= since, Case.id.in_(held))
        .order_by(Case.closed_at.desc())
        .limit(limit)
    )
    grouped: dict[str, list[Learning]] = {}
    for case in cases:  # closed, with the learning the guardian wrote (speakup/domain/handling.py)
        text = sealing.open_text(open_case_key(case), cast(bytes, case.learning_ct), labels.learning(case.id))
        themes = tuple(t.theme for t in case.themes) or ("not_recorded",)
        entry = Learning(themes, clock.uk_date(cast(datetime, case.closed_at)), text)
        for theme in themes:
            grouped.setdefault(theme, []).append(entry)
    return grouped


@dataclass(frozen=True)
class BoardPage:
    """Everything the guardians' board page shows: the report, and the learning shared since its first quarter that
    this guardian can open."""

    report: BoardReport
    learning: dict[str, list[Learning]]


QUARTERS_SHOWN = 4


def current_report() -> BoardReport:
    """The board report the page and its charts show: the last ``QUARTERS_SHOWN`` quarters up to today (UK time)."""
    configured = settings()
    return board_report(
        clock.uk_today(),
        QUARTERS_SHOWN,
        configured.ack_days,
        configured.feedback_days,
        configured.suppress_below,
        configured.characteristics_min_answers,
    )


def board_page(guardian_id: int, private_key: bytes) -> BoardPage:
    """The board page for a signed-in guardian, whose private key opens the learning of the cases they hold."""
    report = current_report()
    learning = shared_learning(
        guardian_id,
        lambda case: grants.guardian_case_key(case, guardian_id, private_key),
        report.quarters[0].quarter.start,
    )
    return BoardPage(report, learning)
