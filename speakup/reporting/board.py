"""The board report: what people spoke up about, how fast guardians answered, and whether people
would speak up again. Plain counted fields only (no keys needed), small numbers suppressed.

Its charts are page models (``speakup/reporting/charts.py``) the template draws as HTML with small inline SVG bars, so
the report needs no JavaScript and its words are page text at every width; every chart has a table with the same
figures (folded under it, so a narrow screen is not twice as long), and the page opens with the latest quarter's
headline figures. Only quarters that have ended are counted (``board_report``).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import cast

from sqlalchemy import select

from speakup.crypto import labels, sealing
from speakup.domain import characteristics
from speakup.domain.categories import CHANNELS, REFERRALS, lists_for
from speakup.domain.quarters import Quarter, ended_quarters, quarter_of
from speakup.keys import grants
from speakup.platform import clock
from speakup.platform.config import settings
from speakup.platform.models import Case, CaseGrant, CaseTheme, GrantRecipient, db
from speakup.platform.translation import gettext as _
from speakup.platform.translation import ngettext
from speakup.reporting import charts as charts_
from speakup.reporting.suppression import FEEDBACK_RESPONSES, FEEDBACK_YES, Measure, suppress


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
    # ``characteristics_enough``.
    characteristics: dict[str, int] = field(default_factory=dict)
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
    """The last ``quarters`` quarters that have ended by ``today``, oldest first. Never the one still running: its
    counts move as concerns arrive, so a guardian whom a reporter excluded could look before and after and learn
    when a concern they cannot see was raised, and by whom they were working with that day (the rule
    ``characteristics.countable`` gives the answers about people, applied to every count; the national return's
    download keeps the same rule, reporting/national_return.py)."""
    wanted = list(reversed(ended_quarters(today, quarters)))
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


def _counts(report: BoardReport, key: str) -> list[int | str]:
    return [q.shown[key] for q in report.quarters]


def charts(report: BoardReport) -> tuple[charts_.Chart, ...]:
    """The report's charts, in the page's order, from the counts as the tables show them (suppressed)."""
    quarters = [q.label for q in report.quarters]
    below = report.suppress_below
    themes = [(label, _counts(report, f"theme:{theme}")) for theme, label in report.theme_labels.items()]
    raised = [(_("All concerns"), _counts(report, "raised")), (_("Raised anonymously"), _counts(report, "anonymous"))]
    feedback = [
        (_("Answered"), _counts(report, "feedback")),
        (_("Would speak up again"), _counts(report, "yes")),
        (_("Reported detriment"), _counts(report, "detriment")),
        (_("Reported detriment after closing"), _counts(report, "detriment_after_closure")),
    ]
    timeliness = [
        (_("To acknowledge"), [q.median_days_to_acknowledge for q in report.quarters], report.ack_days),
        (_("To close"), [q.median_days_to_close for q in report.quarters], report.feedback_days),
    ]
    concerns = _("concerns")  # the scale's unit
    return (
        charts_.count_chart("themes", _("Concerns by theme"), concerns, quarters, themes, below),
        charts_.count_chart(
            "anonymous", _("Concerns raised, and how many anonymously"), concerns, quarters, raised, below
        ),
        charts_.days_chart("timeliness", _("Median days to acknowledge and to close"), quarters, timeliness),
        charts_.count_chart("feedback", _("Would people speak up again?"), _("answers"), quarters, feedback, below),
    )


@dataclass(frozen=True)
class Figure:
    """One headline figure: the latest quarter's value as the tables show it, and a note that puts it in context."""

    label: str
    value: str
    note: str
    hidden: bool = False  # a count the suppression rule hid ("<5")


def _count_figure(report: BoardReport, label: str, key: str) -> Figure:
    now, before = report.quarters[-1], report.quarters[-2] if len(report.quarters) > 1 else None
    value = now.shown[key]
    note = _("%(quarter)s: %(count)s", quarter=before.label, count=before.shown[key]) if before else ""
    return Figure(label, str(value), note, hidden=isinstance(value, str))


def _days(median: float | None) -> str:
    return _("None yet") if median is None else _("%(value)s days", value=median)


def headline(report: BoardReport) -> tuple[Figure, ...]:
    """The latest quarter's figures the report already has, first: every count as suppressed for the tables (the one
    rule), so the headline shows nothing the tables below do not."""
    now = report.quarters[-1]
    yes, answered = now.shown["yes"], now.shown["feedback"]
    return (
        _count_figure(report, _("Concerns raised"), "raised"),
        _count_figure(report, _("Raised anonymously"), "anonymous"),
        Figure(
            _("Median days to acknowledge"),
            _days(now.median_days_to_acknowledge),
            ngettext("Target %(num)d day", "Target %(num)d days", report.ack_days),
        ),
        Figure(
            _("Median days to close"),
            _days(now.median_days_to_close),
            ngettext("Feedback target %(num)d day", "Feedback target %(num)d days", report.feedback_days),
        ),
        Figure(
            _("Would speak up again"),
            str(yes),
            _("Of %(count)s who answered", count=answered),
            hidden=isinstance(yes, str),
        ),
    )


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
    """Everything the guardians' board page shows: the latest quarter's headline figures, the report and its charts,
    and the learning shared since its first quarter that this guardian can open."""

    report: BoardReport
    learning: dict[str, list[Learning]]
    headline: tuple[Figure, ...]
    charts: dict[str, charts_.Chart]


QUARTERS_SHOWN = 4


def current_report() -> BoardReport:
    """The board report the page shows: the last ``QUARTERS_SHOWN`` quarters that have ended (UK time)."""
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
    return BoardPage(report, learning, headline(report), {chart.key: chart for chart in charts(report)})
