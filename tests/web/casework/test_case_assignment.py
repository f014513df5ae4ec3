"""Assigning a case on the guardian's case page: to oneself, a colleague who holds it, or nobody; never to a
disabled guardian, one without a grant, or someone who is not a guardian."""

from __future__ import annotations

import re

import pytest
from support.casework import (
    act,
    came_back,
    case_url,
    field_error,
    queue_rows,
    refs,
    reporter_page,
    stored,
    summary_value,
    text_of,
    timeline_of,
    trail,
    was_done,
)
from support.factories import gen_admin, gen_concern, gen_staff
from support.html import following_up, signed_in
from support.present import found, get_row

from speakup.platform.models import User, db

# --- Assignment -------------------------------------------------------------------------------------


def test_assign_to_myself_then_to_a_colleague_then_unassign(app, signed, guardian):
    bo = gen_staff(app, email="bo@example.org", name="Bo Backup")
    raised = gen_concern(signed)
    ref = raised["reference"]
    page = text_of(signed.get(case_url(ref)))
    select_block = found(r'<select [^>]*id="assignee"[^>]*>(.*?)</select>', page, re.S)
    assert re.findall(r'<option value="([^"]*)"', select_block) == ["", str(bo.id), str(guardian.id)]

    assert was_done(signed, act(signed, ref, "assign", assignee=str(guardian.id)))
    assert stored(app, ref).assigned_to_id == guardian.id
    [row] = queue_rows(signed)
    assert row["assigned"] == "Gita Guardian"
    assert refs(queue_rows(signed, assigned="me")) == [ref]
    assert queue_rows(signed, assigned="unassigned") == []
    assert summary_value(text_of(signed.get(case_url(ref))), "Assigned to") == "Gita Guardian"

    assert was_done(signed, act(signed, ref, "assign", assignee=str(bo.id)))
    assert stored(app, ref).assigned_to_id == bo.id
    assert queue_rows(signed)[0]["assigned"] == "Bo Backup"
    assert queue_rows(signed, assigned="me") == []
    assert refs(queue_rows(signed_in(app, bo), assigned="me")) == [ref]

    assert was_done(signed, act(signed, ref, "assign", assignee=""))
    assert stored(app, ref).assigned_to_id is None
    assert queue_rows(signed)[0]["assigned"] == "Unassigned"
    assert refs(queue_rows(signed, assigned="unassigned")) == [ref]

    assigned = [e for e in trail(app, ref) if e.action == "case_assigned"]
    assert [e.detail for e in assigned] == [{"guardian_id": guardian.id}, {"guardian_id": bo.id}, {"guardian_id": None}]
    # Assignment is internal: the reporter's timeline does not show it.
    assert timeline_of(reporter_page(following_up(app, raised["access_code"]))) == ["Concern raised"]


def test_assigning_to_a_disabled_guardian_is_refused(app, signed):
    bo = gen_staff(app, email="bo@example.org", name="Bo Backup")
    ref = gen_concern(signed)["reference"]  # Bo holds a grant for it
    with app.app_context():
        get_row(User, bo.id).is_active = False
        db.session.commit()
    before = stored(app, ref)
    page = came_back(signed, act(signed, ref, "assign", assignee=str(bo.id)))
    assert field_error(page, "assignee") == "Bo Backup's account is disabled: choose another guardian"
    assert str(bo.id) not in found(r'<select [^>]*id="assignee"[^>]*>(.*?)</select>', page, re.S)
    assert stored(app, ref) == before


def test_assigning_to_a_guardian_without_a_grant_asks_to_share_first(app, signed):
    ref = gen_concern(signed)["reference"]
    late = gen_staff(app, email="late@example.org", name="Lee Late")  # joined after the concern
    before = stored(app, ref)
    page = came_back(signed, act(signed, ref, "assign", assignee=str(late.id)))
    assert field_error(page, "assignee") == "Lee Late cannot open this case yet: share it with them first"
    assert stored(app, ref) == before

    response = act(signed, ref, "share", share_with=str(late.id))
    assert response.status_code == 303 and response.headers["Location"].endswith("#sharing")
    assert [e.detail for e in trail(app, ref) if e.action == "case_shared"] == [
        {"guardian_id": late.id, "reason": None}
    ]
    assert was_done(signed, act(signed, ref, "assign", assignee=str(late.id)))
    assert stored(app, ref).assigned_to_id == late.id
    assert refs(queue_rows(signed_in(app, late), assigned="me")) == [ref]


@pytest.mark.parametrize("assignee", ["999999", "not-a-number", "admin"])
def test_assigning_to_someone_not_a_guardian_is_refused(app, signed, assignee):
    admin = gen_admin(app)
    ref = gen_concern(signed)["reference"]
    before = stored(app, ref)
    page = came_back(signed, act(signed, ref, "assign", assignee=str(admin.id) if assignee == "admin" else assignee))
    assert field_error(page, "assignee") == "Choose a guardian from the list"
    assert stored(app, ref) == before
