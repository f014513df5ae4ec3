"""The guardian's triage queue: filtered, sorted by the next deadline, one page at a time.

Everything the queue shows is a plain value (reference, dates, status, themes, assignee), so a page
needs no decryption at all; it stays one indexed query however many cases there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, exists, func, select

from speakup.domain import workflow
from speakup.platform.inputs import parse_int
from speakup.platform.models import Case, CaseGrant, CaseTheme, User, db

PAGE_SIZE = 25
ASSIGNED = {"me": "Assigned to me", "unassigned": "Unassigned"}
DUE = {"overdue": "Overdue", "week": "Due in the next 7 days"}


class BadFilter(ValueError):
    """A filter value that is not one of the offered choices."""


@dataclass(frozen=True)
class QueueFilters:
    status: str = ""  # "" means every open case; a status name, or "closed"
    theme: str = ""
    assigned: str = ""
    due: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: dict[str, str], themes: dict[str, str]) -> QueueFilters:
        status, theme = args.get("status", ""), args.get("theme", "")
        assigned, due, page = args.get("assigned", ""), args.get("due", ""), args.get("page", "1")
        if status and status not in workflow.GUARDIAN_LABELS:
            raise BadFilter("status")
        if theme and theme not in themes:
            raise BadFilter("theme")
        if assigned and assigned not in ASSIGNED:
            raise BadFilter("assigned")
        if due and due not in DUE:
            raise BadFilter("due")
        page_number = parse_int(page)
        if page_number is None or page_number < 1:
            raise BadFilter("page")
        return cls(status, theme, assigned, due, page_number)

    def as_args(self, **changes: object) -> dict[str, object]:
        values = {"status": self.status, "theme": self.theme, "assigned": self.assigned, "due": self.due}
        values.update({"page": self.page, **changes})
        return {key: value for key, value in values.items() if value not in ("", None, 1)}


@dataclass(frozen=True)
class QueueRow:
    reference: str
    created_at: datetime
    status: str
    assigned_to: str
    themes: tuple[str, ...]
    next_due: date | None
    deadline: str | None


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def guardian_queue(user_id: int, filters: QueueFilters, today: date, soon_days: int) -> QueuePage:
    """The cases this guardian holds a key for, soonest deadline first."""
    held = exists().where(CaseGrant.case_id == Case.id, CaseGrant.recipient == "guardian", CaseGrant.user_id == user_id)
    query = select(Case.id, Case.reference, Case.created_at, Case.status, Case.next_due, User.name).outerjoin(
        User, User.id == Case.assigned_to_id
    )
    query = query.where(held)
    if filters.status:
        query = query.where(Case.status == filters.status)
    else:
        # Open cases always have a next deadline; saying so lets SQLite range-scan the index past the
        # closed cases' NULLs instead of stepping over them.
        query = query.where(Case.status != workflow.CLOSED, Case.next_due.is_not(None))
    if filters.theme:
        query = query.where(exists().where(and_(CaseTheme.case_id == Case.id, CaseTheme.theme == filters.theme)))
    if filters.assigned == "me":
        query = query.where(Case.assigned_to_id == user_id)
    elif filters.assigned == "unassigned":
        query = query.where(Case.assigned_to_id.is_(None))
    if filters.due == "overdue":
        query = query.where(Case.next_due < today)
    elif filters.due == "week":
        query = query.where(Case.next_due >= today, Case.next_due <= today + timedelta(days=7))
    if filters.status == workflow.CLOSED:
        query = query.order_by(Case.closed_at.desc(), Case.id.desc())
    else:
        query = query.order_by(Case.next_due, Case.id)
    # One row more than a page tells whether there is a next page without counting every case.
    query = query.offset((filters.page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
    found = db.session.execute(query).all()
    page_rows = found[:PAGE_SIZE]
    themes: dict[int, list[str]] = {}
    if page_rows:
        theme_rows = db.session.execute(
            select(CaseTheme.case_id, CaseTheme.theme)
            .where(CaseTheme.case_id.in_([row.id for row in page_rows]))
            .order_by(CaseTheme.theme)
        )
        for case_id, theme in theme_rows:
            themes.setdefault(case_id, []).append(theme)
    rows = [
        QueueRow(
            reference=row.reference,
            created_at=row.created_at,
            status=row.status,
            assigned_to=row.name or "",
            themes=tuple(themes.get(row.id, ())),
            next_due=row.next_due,
            deadline=workflow.deadline_state(row.next_due, today, soon_days),
        )
        for row in page_rows
    ]
    return QueuePage(rows, filters.page, has_next=len(found) > PAGE_SIZE)


def due_soon_counts(today: date, soon_days: int) -> dict[int, int]:
    """For each guardian, how many open cases they hold are due within ``soon_days`` or overdue."""
    rows = db.session.execute(
        select(CaseGrant.user_id, func.count(Case.id))
        .join(Case, Case.id == CaseGrant.case_id)
        .where(
            CaseGrant.recipient == "guardian",
            Case.next_due.is_not(None),
            Case.next_due <= today + timedelta(days=soon_days),
        )
        .group_by(CaseGrant.user_id)
    )
    return {user_id: count for user_id, count in rows}
