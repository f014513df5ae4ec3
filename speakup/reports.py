"""The quarterly National Guardian's Office (Freedom to Speak Up) return: counted, then suppressed.

Everything here reads plain counted fields only (anonymity, worker group, themes, detriment, feedback), so no
decryption key is needed and a purged case still counts: retention keeps those fields. Counting is done by the
database (``COUNT``/``SUM`` with ``GROUP BY``), never by loading cases into Python.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, case, func, select

from . import crypto
from .categories import lists_for
from .models import Case, CaseTheme, StatsToken, db, utcnow
from .workflow import LONDON

# The default threshold; the app's setting of the same name (config/default.py) is what callers pass.
SUPPRESS_BELOW = 5

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
    interface (CONTRACT.md) names quarters like ``2026Q3`` with no financial year in them.

    ``start`` and ``end`` are the first and last UK calendar days of the quarter (both inclusive).
    """

    year: int
    number: int

    @property
    def label(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def start(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> date:
        return self.next().start - timedelta(days=1)

    def next(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)

    def utc_bounds(self) -> tuple[datetime, datetime]:
        """[from, until) as naive UTC datetimes (how times are stored), for UK midnight at each end."""
        return _uk_midnight_as_utc(self.start), _uk_midnight_as_utc(self.next().start)

    def __str__(self) -> str:
        return self.label


def _uk_midnight_as_utc(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LONDON).astimezone(UTC).replace(tzinfo=None)


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
    current = quarter_of(day)
    return Quarter(current.year - 1, 4) if current.number == 1 else Quarter(current.year, current.number - 1)


# --- Measures --------------------------------------------------------------------------------

CASES_RAISED = "cases_raised"
ANONYMOUS = "raised_anonymously"
DETRIMENT = "detriment_reported"
THEME_PREFIX = "theme:"
WORKER_GROUP_PREFIX = "worker_group:"
WORKER_GROUP_NOT_RECORDED = "worker_group_not_recorded"
FEEDBACK_RESPONSES = "feedback_responses"
FEEDBACK_YES = "feedback_would_speak_up_again"


@dataclass(frozen=True)
class Measure:
    """One row of the return. ``value`` is a count, or after ``suppress`` possibly the suppression label.

    ``part_of`` names the measure this row is one part of, when the rows sharing it add up to that measure
    exactly (the worker-group rows add up to "cases raised"); suppression uses it to stop subtraction.
    """

    key: str  # stable machine name
    label: str  # the measure in plain words
    value: int | str
    part_of: str | None = None


def national_return(quarter: Quarter) -> list[Measure]:
    """The measures for the cases RAISED in ``quarter`` (by UK time), unsuppressed, in a stable order.

    Feedback rows count the answers given in the quarter (whenever the case was raised). Themes and worker
    groups follow the lists that applied on the quarter's first day. A worker group value outside that list
    (recorded under other guidance) is counted with "not recorded", so the worker-group rows always add up
    to "cases raised". Purged cases count like any other: they keep these fields.
    """
    lists = lists_for(quarter.start)
    since, until = quarter.utc_bounds()
    raised = and_(Case.created_at >= since, Case.created_at < until)

    total, anonymous, detriment = db.session.execute(
        select(
            func.count(Case.id),
            func.coalesce(func.sum(case((Case.anonymity == "anonymous", 1), else_=0)), 0),
            func.coalesce(func.sum(case((Case.detriment_reported.is_(True), 1), else_=0)), 0),
        ).where(raised)
    ).one()
    theme_counts = dict(
        db.session.execute(
            select(CaseTheme.theme, func.count(func.distinct(CaseTheme.case_id)))
            .join(Case, Case.id == CaseTheme.case_id)
            .where(raised)
            .group_by(CaseTheme.theme)
        ).all()
    )
    group_counts = dict(
        db.session.execute(
            select(Case.worker_group, func.count(Case.id)).where(raised).group_by(Case.worker_group)
        ).all()
    )
    responses, yes = db.session.execute(
        select(
            func.count(Case.id),
            func.coalesce(func.sum(case((Case.speak_up_again == "yes", 1), else_=0)), 0),
        ).where(
            Case.feedback_at >= since,
            Case.feedback_at < until,
            Case.speak_up_again.is_not(None),
        )
    ).one()

    measures = [
        Measure(CASES_RAISED, "Cases raised", int(total)),
        Measure(ANONYMOUS, "Cases raised anonymously", int(anonymous)),
    ]
    for value, label in lists.themes.items():
        measures.append(
            Measure(THEME_PREFIX + value, f"Cases with an element of {_lower_first(label)}", theme_counts.get(value, 0))
        )
    measures.append(Measure(DETRIMENT, "Cases where the person reported detriment for speaking up", int(detriment)))
    listed = 0
    for value, label in lists.worker_groups.items():
        count = int(group_counts.get(value, 0))
        listed += count
        measures.append(Measure(WORKER_GROUP_PREFIX + value, f"Worker group: {label}", count, CASES_RAISED))
    measures.append(Measure(WORKER_GROUP_NOT_RECORDED, "Worker group: not recorded", int(total) - listed, CASES_RAISED))
    measures.append(Measure(FEEDBACK_RESPONSES, "Feedback responses", int(responses)))
    measures.append(Measure(FEEDBACK_YES, "Feedback responses saying they would speak up again", int(yes)))
    return measures


def _lower_first(label: str) -> str:
    return label[:1].lower() + label[1:]


# --- Suppression -----------------------------------------------------------------------------


def suppressed_label(below: int = SUPPRESS_BELOW) -> str:
    return f"<{below}"


def suppress(measures: list[Measure], below: int = SUPPRESS_BELOW) -> list[Measure]:
    """Small-number suppression, so no count of 1 to ``below - 1`` people can be read or worked out.

    Every suppressed value is shown as the same label, ``"<5"`` for the default threshold (the label is built
    from ``below``), so a reader cannot tell a small count from a cell hidden only to protect it.

    1. Primary: a count from 1 to ``below - 1`` is suppressed. 0 is shown as 0 (nobody to identify).
    2. Secondary, for rows that add up to a shown total (``part_of``: the worker-group rows add up to
       "cases raised"): if exactly one row of the group is suppressed, total minus the others would reveal it,
       so the next-smallest non-zero row is suppressed as well. It is also done when the suppressed rows add
       up to exactly how many there are (every one of them must then be 1). Repeated until neither holds or
       no row is left. When the total itself is suppressed nothing can be subtracted from it.
    3. Secondary, for feedback: "would speak up again" (yes) is part of "feedback responses", and the rest
       (responses - yes, those who did not say yes) is not published but could be worked out. When both are
       shown and that rest is from 1 to ``below - 1``, "feedback responses" is suppressed (the yes count, the
       measure people read, stays exact). When yes is suppressed and responses shown, the rest cannot be
       worked out (yes is unknown), so nothing more is needed; when responses is suppressed, so is any non-zero
       yes (it is no larger).

    A row suppressed by rule 2 or 3 may really be ``below`` or more: the label marks suppression there, not
    the size.
    """
    label = suppressed_label(below)
    values = {m.key: m.value for m in measures}
    hidden = {m.key for m in measures if isinstance(m.value, int) and 0 < m.value < below}

    groups: dict[str, list[Measure]] = {}
    for measure in measures:
        if measure.part_of is not None:
            groups.setdefault(measure.part_of, []).append(measure)
    for total_key, parts in groups.items():
        if total_key in hidden:
            continue
        while True:
            cells = [m for m in parts if m.key in hidden]
            suppressed_sum = sum(int(values[m.key]) for m in cells)
            if not (len(cells) == 1 or (len(cells) > 1 and suppressed_sum == len(cells))):
                break
            shown = [m for m in parts if m.key not in hidden and isinstance(m.value, int) and m.value > 0]
            if not shown:
                break
            hidden.add(min(shown, key=lambda m: (m.value, parts.index(m))).key)

    responses, yes = values.get(FEEDBACK_RESPONSES), values.get(FEEDBACK_YES)
    if (
        isinstance(responses, int)
        and isinstance(yes, int)
        and FEEDBACK_RESPONSES not in hidden
        and FEEDBACK_YES not in hidden
        and 0 < responses - yes < below
    ):
        hidden.add(FEEDBACK_RESPONSES)

    return [replace(m, value=label) if m.key in hidden else m for m in measures]


# --- Output ----------------------------------------------------------------------------------


def suppressed_return(quarter: Quarter, below: int = SUPPRESS_BELOW) -> list[Measure]:
    return suppress(national_return(quarter), below)


def return_csv(quarter: Quarter, below: int = SUPPRESS_BELOW) -> str:
    """The return as CSV: a ``measure,value`` header, then one row per measure in plain words."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["measure", "value"])
    for measure in suppressed_return(quarter, below):
        writer.writerow([measure.label, measure.value])
    return out.getvalue()


def return_json(quarter: Quarter, below: int = SUPPRESS_BELOW) -> dict[str, object]:
    return {
        "quarter": quarter.label,
        "measures": [{"key": m.key, "measure": m.label, "value": m.value} for m in suppressed_return(quarter, below)],
        "suppress_below": below,
    }


# --- Statistics tokens -----------------------------------------------------------------------

TOKEN_PURPOSE = "stats-token"  # noqa: S105 - a hash purpose, not a secret
TOKEN_BYTES = 32
MAX_TOKEN_NAME_CHARS = 100


class TokenError(ValueError):
    """A statistics token cannot be created or revoked as asked; the message says why."""


def _token_hash(token: str, pepper: bytes) -> str:
    return crypto.keyed_hash(pepper, token, TOKEN_PURPOSE)


def _clean_token_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > MAX_TOKEN_NAME_CHARS or not name.isprintable():
        raise TokenError(f"Give the token a name of 1 to {MAX_TOKEN_NAME_CHARS} characters on one line.")
    return name


def create_stats_token(name: str, pepper: bytes) -> tuple[StatsToken, str]:
    """A new read-only token for GET /api/v1/stats. Returns the row and the token, which is never stored
    (only its keyed hash is) and so can be shown only this once. The caller commits."""
    name = _clean_token_name(name)
    if db.session.scalar(select(StatsToken.id).where(StatsToken.name == name, StatsToken.revoked_at.is_(None))):
        raise TokenError(f"A statistics token named {name!r} already exists; revoke it first or choose another name.")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = StatsToken(name=name, token_hash=_token_hash(token, pepper))
    db.session.add(row)
    db.session.flush()
    return row, token


def revoke_stats_token(name: str) -> int:
    """Revokes every unrevoked token with this name; returns how many. The caller commits."""
    rows = db.session.scalars(
        select(StatsToken).where(StatsToken.name == (name or "").strip(), StatsToken.revoked_at.is_(None))
    ).all()
    if not rows:
        raise TokenError(f"No active statistics token is named {name!r}.")
    now = utcnow()
    for row in rows:
        row.revoked_at = now
    return len(rows)


def stats_tokens() -> list[StatsToken]:
    return list(db.session.scalars(select(StatsToken).order_by(StatsToken.created_at, StatsToken.id)))


def find_stats_token(token: str, pepper: bytes) -> StatsToken | None:
    """The unrevoked token row this bearer token matches, found by its keyed hash, or None."""
    if not token or len(token) > 200:
        return None
    return db.session.scalar(
        select(StatsToken).where(StatsToken.token_hash == _token_hash(token, pepper), StatsToken.revoked_at.is_(None))
    )
