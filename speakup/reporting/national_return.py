"""The quarterly national Freedom to Speak Up return, as NHS England collects it (the data collection the National
Guardian's Office ran until it closed in 2026): counted exactly for submission, or suppressed for publication.

A return submitted with "<5" in it would make the national figures wrong, so the file for submission carries exact
counts and says it is not for publication; the published version applies the one suppression rule the board report
uses (reporting/suppression.py). Guardians and dashboards are given a quarter only once it has ended: a running
quarter's counts would let a guardian whom a reporter excluded watch them move and learn when a concern they cannot
see was raised (docs/threat-model.md). The operator's command, run by whoever holds the database anyway, counts any
quarter.

Everything here reads plain counted fields only (anonymity, worker group, themes, detriment, feedback), so no
decryption key is needed and a purged case still counts: retention keeps those fields. Counting is done by the
database (``COUNT``/``SUM`` with ``GROUP BY``), never by loading cases into Python.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, case, func, select

from speakup.domain.categories import lists_for
from speakup.domain.quarters import Quarter
from speakup.ops import audit
from speakup.platform import clock
from speakup.platform.config import settings
from speakup.platform.models import Case, CaseTheme, db
from speakup.reporting.suppression import (
    ANONYMOUS,
    CASES_RAISED,
    DETRIMENT,
    DETRIMENT_AFTER_CLOSURE,
    FEEDBACK_RESPONSES,
    FEEDBACK_YES,
    SUPPRESS_BELOW,
    THEME_PREFIX,
    WORKER_GROUP_NOT_RECORDED,
    WORKER_GROUP_PREFIX,
    Measure,
    _lower_first,
    suppress,
)

# How the measures are named: a gettext. English (the source) for the operator's command and the API; a guardian's
# download passes Flask-Babel's, so its headings are in the language of the page it was asked from.
Say = Callable[..., str]


def english(message: str, **variables: Any) -> str:
    return message % variables if variables else message


def national_return(quarter: Quarter, say: Say = english) -> list[Measure]:
    """The measures for the cases RAISED in ``quarter`` (by UK time), unsuppressed, in a stable order.

    Feedback rows, and check-ins after closing, count the answers given in the quarter (whenever the case was
    raised). Themes and worker
    groups follow the lists that applied on the quarter's first day. A worker group value outside that list
    (recorded under other guidance) is counted with "not recorded", so the worker-group rows always add up
    to "cases raised". Purged cases count like any other: they keep these fields.
    """
    _ = say  # each measure's name below is a msgid (make translations extracts them)
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
        Measure(CASES_RAISED, _("Cases raised"), int(total)),
        Measure(ANONYMOUS, _("Cases raised anonymously"), int(anonymous)),
    ]
    for value, label in lists.themes.items():
        measures.append(
            Measure(
                THEME_PREFIX + value,
                _("Cases with an element of %(theme)s", theme=_lower_first(str(label))),
                theme_counts.get(value, 0),
            )
        )
    measures.append(Measure(DETRIMENT, _("Cases where the person reported detriment for speaking up"), int(detriment)))
    listed = 0
    for value, label in lists.worker_groups.items():
        count = int(group_counts.get(value, 0))
        listed += count
        group = _("Worker group: %(group)s", group=str(label))
        measures.append(Measure(WORKER_GROUP_PREFIX + value, group, count, CASES_RAISED))
    not_recorded = _("Worker group: not recorded")
    measures.append(Measure(WORKER_GROUP_NOT_RECORDED, not_recorded, int(total) - listed, CASES_RAISED))
    measures.append(Measure(FEEDBACK_RESPONSES, _("Feedback responses"), int(responses)))
    measures.append(Measure(FEEDBACK_YES, _("Feedback responses saying they would speak up again"), int(yes)))
    after_closure = db.session.scalar(
        select(func.count(Case.id)).where(
            Case.checked_in_at >= since, Case.checked_in_at < until, Case.detriment_after_closure.is_(True)
        )
    )
    measures.append(
        Measure(
            DETRIMENT_AFTER_CLOSURE,
            _("Check-ins after closing where the person reported detriment for speaking up"),
            int(after_closure or 0),
        )
    )
    return measures


def suppressed_return(quarter: Quarter, below: int = SUPPRESS_BELOW, say: Say = english) -> list[Measure]:
    return suppress(national_return(quarter, say), below)


SUBMISSION, PUBLISHED = "submission", "published"
VERSIONS = (SUBMISSION, PUBLISHED)
NOTES = {
    SUBMISSION: "For submission to the national collection: not for publication.",
    PUBLISHED: "For publication: small numbers suppressed, as in the board report.",
}


class QuarterNotEnded(Exception):
    """Guardians are given a quarter's return only once the quarter is over."""


def return_csv(quarter: Quarter, version: str, below: int = SUPPRESS_BELOW, say: Say = english) -> str:
    """The return as CSV: a ``measure,value`` header, then one row per measure in plain words; exact counts for
    submission, or suppressed for publication. ``say`` names the columns and measures (English by default)."""
    _ = say
    measures = national_return(quarter, say) if version == SUBMISSION else suppressed_return(quarter, below, say)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([_("measure"), _("value")])
    for measure in measures:
        writer.writerow([measure.label, measure.value])
    return out.getvalue()


def return_json(quarter: Quarter, below: int = SUPPRESS_BELOW) -> dict[str, object]:
    return {
        "quarter": quarter.label,
        "measures": [{"key": m.key, "measure": m.label, "value": m.value} for m in suppressed_return(quarter, below)],
        "suppress_below": below,
    }


def export_csv(quarter: Quarter, version: str, guardian_id: int, say: Say = english) -> str:
    """The return a guardian downloads, for a quarter that has ended, and the record that they exported it; its
    headings and measures named by ``say`` (the page's language)."""
    if not quarter.has_ended(clock.uk_today()):
        raise QuarterNotEnded(quarter)
    body = return_csv(quarter, version, settings().suppress_below, say)
    audit.record_reading(
        audit.Action.EXPORT, audit.Actor.GUARDIAN, guardian_id, format="csv", period=quarter.label, version=version
    )
    return body


def export_for_command(quarter: Quarter, version: str) -> str:
    """The return the operator's command prints, for any quarter, and the record of it."""
    body = return_csv(quarter, version, settings().suppress_below)
    audit.record(
        audit.Action.EXPORT,
        audit.Actor.SYSTEM,
        format="csv",
        period=quarter.label,
        reason="command_line",
        version=version,
    )
    return body


def export_for_stats_token(quarter: Quarter) -> dict[str, object]:
    """The return read with a statistics token (suppressed at the configured threshold), for a quarter that has
    ended (a dashboard is watched, by guardians among others), and the record of it."""
    if not quarter.has_ended(clock.uk_today()):
        raise QuarterNotEnded(quarter)
    body = return_json(quarter, settings().suppress_below)
    audit.record_reading(
        audit.Action.EXPORT, audit.Actor.SYSTEM, format="json", period=quarter.label, reason="stats_token"
    )
    return body
