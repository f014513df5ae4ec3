"""The guardian's triage queue: filtered, sorted by the next deadline, one page at a time.

Everything the queue shows is a plain value (reference, dates, status, themes, assignee), so a page
needs no decryption at all; it stays one indexed query however many cases there are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TypeAlias

from sqlalchemy import ColumnElement, Row, Select, and_, exists, func, literal_column, or_, select, true

from speakup.domain import deadlines, staff, workflow
from speakup.domain.categories import lists_for
from speakup.ops import outbox
from speakup.platform import clock
from speakup.platform.config import settings
from speakup.platform.inputs import parse_int
from speakup.platform.models import Case, CaseGrant, CaseTheme, GrantRecipient, User, db
from speakup.platform.translation import lazy_gettext as _l

PAGE_SIZE = 25
# Each filter's values (the query's, never translated) and the words the page shows for them.
ASSIGNED = {"me": _l("Assigned to me"), "unassigned": _l("Unassigned")}
DUE = {"overdue": _l("Overdue"), "week": _l("Due in the next 7 days")}
REPLIES = {"waiting": _l("A reply is waiting for you")}
DETRIMENT = {"reported": _l("Detriment reported")}
# "What needs you now" counts each list only this far: the queue never counts a whole list (at 100,000 cases that
# would cost more than the page); past it the page says "100 or more".
COUNT_LIMIT = 100


class BadFilter(ValueError):
    """A filter value that is not one of the offered choices."""


@dataclass(frozen=True)
class QueueFilters:
    status: str = ""  # "" means every open case; a status name, or "closed"
    theme: str = ""
    assigned: str = ""
    due: str = ""
    page: int = 1
    replies: str = ""
    detriment: str = ""

    @classmethod
    def from_args(cls, args: dict[str, str], themes: dict[str, str]) -> QueueFilters:
        status, theme = args.get("status", ""), args.get("theme", "")
        assigned, due, page = args.get("assigned", ""), args.get("due", ""), args.get("page", "1")
        replies, detriment = args.get("replies", ""), args.get("detriment", "")
        if status and status not in workflow.GUARDIAN_LABELS:
            raise BadFilter("status")
        if theme and theme not in themes:
            raise BadFilter("theme")
        if assigned and assigned not in ASSIGNED:
            raise BadFilter("assigned")
        if due and due not in DUE:
            raise BadFilter("due")
        if replies and replies not in REPLIES:
            raise BadFilter("replies")
        if detriment and detriment not in DETRIMENT:
            raise BadFilter("detriment")
        page_number = parse_int(page)
        if page_number is None or page_number < 1:
            raise BadFilter("page")
        return cls(status, theme, assigned, due, page_number, replies, detriment)

    def as_args(self, **changes: object) -> dict[str, object]:
        values: dict[str, object] = {
            "status": self.status,
            "theme": self.theme,
            "assigned": self.assigned,
            "due": self.due,
        }
        values["replies"] = self.replies
        values["detriment"] = self.detriment
        values.update({"page": self.page, **changes})
        return {key: value for key, value in values.items() if value not in ("", None, 1)}

    @property
    def lists_closed_replies(self) -> bool:
        """Closed cases with a reply waiting are listed above the table on the first page of the open cases, when
        nothing but replies waiting is asked for (a closed case is never overdue, say)."""
        return not (self.status or self.theme or self.assigned or self.due or self.detriment) and self.page == 1

    @property
    def filtered(self) -> bool:
        return self != QueueFilters(page=self.page)


@dataclass(frozen=True)
class QueueRow:
    address: int  # the case's page is at this, never its reference (History keeps addresses): the case id
    reference: str
    created_at: datetime
    status: str
    assigned_to: str
    themes: tuple[str, ...]
    next_due: date | None
    deadline: str | None
    reply_waiting: bool = False
    detriment_after_closure: bool = False
    detriment: bool = False  # reported on the case or after it closed (``detriment_reported``)
    days_left: int | None = None  # until next_due: 0 on the day, negative once overdue

    @property
    def untriaged(self) -> bool:
        """New: received, not yet acknowledged, and nothing recorded about it yet."""
        return self.status == workflow.RECEIVED and not self.themes


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    page: int
    has_next: bool
    # Closed cases the reporter wrote to since this guardian last opened them: shown with the open ones until read,
    # the latest PAGE_SIZE of them (more_closed_with_replies: there are more, all listed by status=closed&replies=...).
    closed_with_replies: list[QueueRow] = field(default_factory=list)
    more_closed_with_replies: bool = False

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def first_shown(self) -> int:
        """The place of this page's first case in the whole list (the list is not counted: at 100,000 cases that
        would cost more than the page)."""
        return (self.page - 1) * PAGE_SIZE + 1


@dataclass(frozen=True)
class GuardianQueuePage:
    """The queue as a guardian's page shows it: one page of their cases as filtered, the themes they can filter
    by today, and the roster's recent changes (so an account nobody expected is noticed)."""

    page: QueuePage
    filters: QueueFilters
    themes: Mapping[str, str]
    roster_changes: list[staff.RosterChange]
    needs: list[Need]
    # Guardians' emails have been failing for a while: tell the IT team. Never since when: the time the oldest
    # waiting email was queued is a concern's arrival, which a guardian the reporter excluded must not learn.
    mail_failing: bool


def guardian_queue_page(user_id: int, args: Mapping[str, str]) -> GuardianQueuePage:
    """The queue page for the filters in ``args`` (the page's query); BadFilter for a value it never offered."""
    today = clock.uk_today()
    themes = lists_for(today).themes
    filters = QueueFilters.from_args(dict(args), themes)
    page = guardian_queue(user_id, filters, today, settings().reminder_days)
    return GuardianQueuePage(
        page,
        filters,
        themes,
        staff.recent_roster_changes(),
        needs_you_now(user_id, today),
        outbox.failing_since(clock.utcnow()) is not None,
    )


def _held_by(user_id: int) -> tuple[ColumnElement[bool], ...]:
    return CaseGrant.case_id == Case.id, CaseGrant.recipient == GrantRecipient.GUARDIAN, CaseGrant.user_id == user_id


def reply_waiting(user_id: int) -> ColumnElement[bool]:
    """A reply waits for this guardian: the reporter wrote (a message, a file, detriment at a check-in) since they
    last opened the case, or they never have, whatever its status. The one definition: the queue filters on it,
    lists closed cases by it and marks its rows with it (``_waiting_among``), so the three cannot disagree."""
    unread = exists().where(
        *_held_by(user_id), or_(CaseGrant.read_writes.is_(None), CaseGrant.read_writes < Case.reporter_writes)
    )
    # A literal 0, as the partial index ix_cases_reporter_writes (migration 0019) is written: "Needs you now" counts
    # these from it, reading only the cases the reporter ever wrote to.
    return and_(Case.reporter_writes > literal_column("0"), unread)


def _waiting_among(ids: list[int], user_id: int) -> set[int]:
    return set(db.session.scalars(select(Case.id).where(Case.id.in_(ids), reply_waiting(user_id))))


_COLUMNS = (
    Case.id,
    Case.reference,
    Case.created_at,
    Case.status,
    Case.next_due,
    Case.detriment_after_closure,
    Case.detriment_reported,
    User.name,
)
# A queue row as _COLUMNS select it, and the query for them.
_Record: TypeAlias = "Row[int, str, datetime, str, date | None, bool | None, bool | None, str]"
_Query: TypeAlias = "Select[int, str, datetime, str, date | None, bool | None, bool | None, str]"


def guardian_queue(user_id: int, filters: QueueFilters, today: date, soon_days: int) -> QueuePage:
    """The cases this guardian holds a key for, soonest deadline first."""
    query = select(*_COLUMNS).outerjoin(User, User.id == Case.assigned_to_id).where(*_listed(user_id, filters, today))
    if filters.status == workflow.CLOSED:
        query = query.order_by(Case.closed_at.desc(), Case.id.desc())
    else:
        query = query.order_by(Case.next_due, Case.id)
    # One row more than a page tells whether there is a next page without counting every case.
    query = query.offset((filters.page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
    found = db.session.execute(query).all()
    closed: Sequence[_Record] = []
    if filters.lists_closed_replies:
        closed = db.session.execute(closed_replies_query(user_id)).all()
    rows = _queue_rows([*found[:PAGE_SIZE], *closed[:PAGE_SIZE]], user_id, today, soon_days)
    return QueuePage(
        rows[: len(found[:PAGE_SIZE])],
        filters.page,
        has_next=len(found) > PAGE_SIZE,
        closed_with_replies=rows[len(found[:PAGE_SIZE]) :],
        more_closed_with_replies=len(closed) > PAGE_SIZE,
    )


def closed_replies_query(user_id: int) -> _Query:
    """The latest closed cases with a reply waiting for this guardian, one more than a page."""
    return (
        select(*_COLUMNS)
        .outerjoin(User, User.id == Case.assigned_to_id)
        .where(*_closed_replies(user_id))
        # Ordered by an expression (the same time: a case the reporter wrote to has one), so SQLite finds the few
        # cases from the partial index on reporter_writes rather than walk every case by reporter_wrote_at.
        .order_by(func.coalesce(Case.reporter_wrote_at, Case.created_at).desc())
        .limit(PAGE_SIZE + 1)
    )


def _listed(user_id: int, filters: QueueFilters, today: date) -> list[ColumnElement[bool]]:
    """What a case must be to be in the table for these filters: the one definition the list and the counts of
    "Needs you now" share, so a count is always what its link lists."""
    conditions: list[ColumnElement[bool]] = [exists().where(*_held_by(user_id))]
    if filters.status:
        conditions.append(Case.status == filters.status)
    else:
        # Open cases always have a next deadline; saying so lets SQLite range-scan the index past the
        # closed cases' NULLs instead of stepping over them.
        conditions += [Case.status != workflow.CLOSED, Case.next_due.is_not(None)]
    if filters.theme:
        conditions.append(exists().where(and_(CaseTheme.case_id == Case.id, CaseTheme.theme == filters.theme)))
    if filters.assigned == "me":
        conditions.append(Case.assigned_to_id == user_id)
    elif filters.assigned == "unassigned":
        conditions.append(Case.assigned_to_id.is_(None))
    if filters.due == "overdue":
        conditions.append(Case.next_due < today)
    elif filters.due == "week":
        conditions += [Case.next_due >= today, Case.next_due <= today + timedelta(days=7)]
    if filters.replies == "waiting":
        conditions.append(reply_waiting(user_id))
    if filters.detriment == "reported":
        conditions.append(detriment_reported())
    return conditions


def _closed_replies(user_id: int) -> tuple[ColumnElement[bool], ...]:
    # The status written so no index can serve it (status || ''): at 100,000 cases the index on status would walk
    # every closed case, where the partial index on reporter_writes (in reply_waiting) holds only those written to.
    return (Case.status + literal_column("''")) == workflow.CLOSED, reply_waiting(user_id)


def detriment_reported() -> ColumnElement[bool]:
    """The person said they have suffered detriment for speaking up: recorded on the case, or at a check-in after it
    closed. Written with literal trues, as the partial index ``ix_cases_detriment`` (migration 0019) is."""
    return or_(Case.detriment_reported == true(), Case.detriment_after_closure == true())


@dataclass(frozen=True)
class Need:
    """One line of "Needs you now": how many cases (up to COUNT_LIMIT) and the filters that list exactly them."""

    what: str  # a key of NEEDS
    count: int
    filters: QueueFilters

    @property
    def at_least(self) -> bool:
        """The count stopped at COUNT_LIMIT: there may be more."""
        return self.count >= COUNT_LIMIT


# What needs a guardian now, in the order the page says it, each as the filters that list it.
NEEDS = {
    "acknowledge": QueueFilters(status=workflow.RECEIVED),  # received, not yet acknowledged
    "replies": QueueFilters(replies="waiting"),
    "overdue": QueueFilters(due="overdue"),
    "detriment": QueueFilters(detriment="reported"),
}


def count_queries(user_id: int, today: date) -> dict[str, Select[int]]:
    """Each count of "Needs you now" as the query that makes it: one indexed query over plain columns (no decryption)
    that stops at COUNT_LIMIT cases found, so at 100,000 cases it reads at most that many entries of its index's range
    (the received, the overdue, the cases with detriment, the cases the reporter ever wrote to). Replies waiting count
    the closed cases too, as their link lists them (beside the table, see ``QueueFilters.lists_closed_replies``)."""
    queries = {}
    for what, filters in NEEDS.items():
        if what == "replies":  # open or closed: an open case always has a next deadline, so this is both lists
            conditions = [exists().where(*_held_by(user_id)), reply_waiting(user_id)]
        else:
            conditions = _listed(user_id, filters, today)
        matching = select(Case.id).where(*conditions).limit(COUNT_LIMIT).subquery()
        queries[what] = select(func.count()).select_from(matching)
    return queries


def needs_you_now(user_id: int, today: date) -> list[Need]:
    return [
        Need(what, db.session.scalar(query) or 0, NEEDS[what]) for what, query in count_queries(user_id, today).items()
    ]


def _queue_rows(found: list[_Record], user_id: int, today: date, soon_days: int) -> list[QueueRow]:
    """Rows for the page, with each case's themes and whether a reply waits: two small queries for the page."""
    if not found:
        return []
    ids = [row.id for row in found]
    themes: dict[int, list[str]] = {}
    theme_rows = db.session.execute(
        select(CaseTheme.case_id, CaseTheme.theme).where(CaseTheme.case_id.in_(ids)).order_by(CaseTheme.theme)
    )
    for case_id, theme in theme_rows:
        themes.setdefault(case_id, []).append(theme)
    waiting = _waiting_among(ids, user_id)
    return [
        QueueRow(
            address=row.id,
            reference=row.reference,
            created_at=row.created_at,
            status=row.status,
            assigned_to=row.name or "",
            themes=tuple(themes.get(row.id, ())),
            next_due=row.next_due,
            deadline=deadlines.deadline_state(row.next_due, today, soon_days),
            detriment_after_closure=bool(row.detriment_after_closure),
            detriment=bool(row.detriment_reported or row.detriment_after_closure),
            days_left=None if row.next_due is None else (row.next_due - today).days,
            reply_waiting=row.id in waiting,
        )
        for row in found
    ]


def due_soon_counts(today: date, soon_days: int) -> dict[int, int]:
    """For each guardian, how many open cases they hold are due within ``soon_days`` or overdue."""
    rows = db.session.execute(
        select(CaseGrant.user_id, func.count(Case.id))
        .join(Case, Case.id == CaseGrant.case_id)
        .where(
            CaseGrant.recipient == GrantRecipient.GUARDIAN,
            Case.next_due.is_not(None),
            Case.next_due <= today + timedelta(days=soon_days),
        )
        .group_by(CaseGrant.user_id)
    )
    return {user_id: count for user_id, count in rows if user_id is not None}  # a guardian's grant names them
