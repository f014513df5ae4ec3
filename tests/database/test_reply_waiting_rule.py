"""Whether a reply waits for a guardian is decided once (speakup/domain/triage.py, ``reply_waiting``): here every
combination of who wrote last and every status, checked four ways that must agree with the rule and with each
other: the expression itself, the queue's row mark, the "replies waiting" filter, and the closed cases listed above
the open ones. The pages' side of it is tests/web/test_replies_waiting.py."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from support.factories import gen_concern
from support.lifecycle import STATUSES
from support.present import present, table_of

from speakup.domain import references, triage
from speakup.platform.models import Case, CaseGrant, GrantRecipient, db

# How many times the reporter has written (a message, a file, detriment at a check-in), and how many of those the
# guardian's grant had counted when they last opened the case (None: never opened). A read ahead of the writes
# cannot happen (opening copies the count), and is no reply either.
WRITES = (0, 1, 2)
READS = (None, 0, 1, 2)
COMBINATIONS = [(writes, read) for writes in WRITES for read in READS]


def _expected(writes: int, read: int | None) -> bool:
    """The rule in words: the reporter wrote since this guardian last opened the case, or they never have."""
    return writes > 0 and (read is None or read < writes)


def _grant(case_id: int, user_id: int):
    return (CaseGrant.case_id == case_id, CaseGrant.recipient == GrantRecipient.GUARDIAN, CaseGrant.user_id == user_id)


def _set_up(client, guardian) -> tuple[dict[int, bool], int]:
    """One case per combination, and one the guardian holds no key for (the reporter wrote to it)."""
    raised = [gen_concern(client)["reference"] for _ in range(len(COMBINATIONS) + 1)]
    expected = {}
    for reference, (writes, read) in zip(raised, COMBINATIONS, strict=False):
        case_id = present(references.case_by_reference(reference), "case").id
        db.session.execute(update(Case).where(Case.id == case_id).values(reporter_writes=writes))
        db.session.execute(update(CaseGrant).where(*_grant(case_id, guardian.id)).values(read_writes=read))
        expected[case_id] = _expected(writes, read)
    not_held = present(references.case_by_reference(raised[-1]), "case").id
    db.session.execute(update(Case).where(Case.id == not_held).values(reporter_writes=1))
    db.session.execute(table_of(CaseGrant).delete().where(*_grant(not_held, guardian.id)))
    db.session.commit()
    return expected, not_held


def _queue(user_id: int, **filters: Any) -> triage.QueuePage:
    return triage.guardian_queue(user_id, triage.QueueFilters(**filters), date.today(), 7)


def test_the_queue_marks_filters_and_lists_by_the_one_rule_for_every_case(app, client, guardian) -> None:
    assert len(COMBINATIONS) + 1 <= triage.PAGE_SIZE  # every case on one page
    with app.app_context():
        expected, not_held = _set_up(client, guardian)
        waiting = {case_id for case_id, waits in expected.items() if waits}
        assert waiting and waiting != set(expected)  # both answers are tried
        for status in STATUSES:
            closed_at = datetime(2026, 1, 1) if status == "closed" else None
            next_due = None if status == "closed" else date.today() + timedelta(days=3)
            db.session.execute(update(Case).values(status=status, closed_at=closed_at, next_due=next_due))
            db.session.commit()

            every = [*expected, not_held]
            found = set(
                db.session.scalars(select(Case.id).where(Case.id.in_(every), triage.reply_waiting(guardian.id)))
            )
            assert found == waiting, status

            marked = {row.address: row.reply_waiting for row in _queue(guardian.id, status=status).rows}
            assert marked == expected, status  # every case held, marked by the rule; the one not held is not there

            filtered = _queue(guardian.id, status=status, replies="waiting").rows
            assert {row.address for row in filtered} == waiting, status
            assert all(row.reply_waiting for row in filtered), status

            default = _queue(guardian.id)
            if status == "closed":
                assert default.rows == [], status
                assert {row.address for row in default.closed_with_replies} == waiting
                assert all(row.reply_waiting for row in default.closed_with_replies)
            else:
                assert default.closed_with_replies == [], status
                assert {row.address: row.reply_waiting for row in default.rows} == expected, status
