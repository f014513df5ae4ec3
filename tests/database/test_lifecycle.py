"""Every move the status form may be asked for, tried on the domain: each refused one changes nothing.

The pages try one refused move (tests/web/casework/test_case_status.py); here every pair, straight through
``handling.change_status``, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from support.factories import gen_concern
from support.lifecycle import ALLOWED, DESIGNED_MOVES, GUARDIAN_LABELS, REFUSED, ROUTE, STATUSES
from support.present import get_row, present

from speakup.domain import handling, references
from speakup.keys import recovery
from speakup.platform.models import AuditEvent, CaseEvent, User, db


def test_the_lifecycle_covers_every_pair() -> None:
    # Every (from, to) pair is allowed, refused, or a closing (closing has its own form and tests).
    assert len(ALLOWED) + len(REFUSED) + len(DESIGNED_MOVES) == len(STATUSES) ** 2


def _case_at(app, client, guardian, status: str):
    reference = gen_concern(client)["reference"]
    user = get_row(User, guardian.id)
    case = present(references.case_by_reference(reference), "case")
    if status == "closed":
        handling.change_status(case, "acknowledged", user)
        db.session.commit()
        case_key = recovery.recovery_case_key(case, app.config["TEST_RECOVERY_PRIVATE_KEY"])
        handling.close_case(case, case_key, user, "resolved", "We changed the rota.")
        db.session.commit()
    for step in ROUTE.get(status, ()):
        handling.change_status(case, step, user)
        db.session.commit()
    assert case.status == status
    return case, user


@pytest.mark.parametrize(("start", "target"), REFUSED)
def test_a_refused_move_raises_and_changes_nothing(app, client, guardian, start: str, target: str) -> None:
    with app.app_context():
        case, user = _case_at(app, client, guardian, start)
        version, events = case.version, db.session.scalar(select(func.count()).select_from(CaseEvent))
        audited = db.session.scalar(select(func.count()).select_from(AuditEvent))
        with pytest.raises(handling.InvalidTransition) as refused:
            handling.change_status(case, target, user)
        db.session.rollback()
        assert str(refused.value) == f"A case that is {GUARDIAN_LABELS[start].lower()} cannot move there"
        db.session.refresh(case)
        assert (case.status, case.version) == (start, version)
        assert db.session.scalar(select(func.count()).select_from(CaseEvent)) == events
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == audited


@pytest.mark.parametrize(("start", "target"), ALLOWED)
def test_an_allowed_move_is_made(app, client, guardian, start: str, target: str) -> None:
    with app.app_context():
        case, user = _case_at(app, client, guardian, start)
        version = case.version
        handling.change_status(case, target, user)
        db.session.commit()
        db.session.refresh(case)
        assert (case.status, case.version) == (target, version + 1)
