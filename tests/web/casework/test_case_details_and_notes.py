"""A case's details for the national return, the guardians' notes (sealed, never the reporter's), and the case page
never cached, each view audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from support.casework import (
    act,
    came_back,
    case_url,
    field_error,
    follow_up_json,
    load_form,
    queue_rows,
    refs,
    reporter_page,
    stored,
    summary_value,
    text_of,
    trail,
    was_done,
)
from support.factories import gen_concern
from support.html import following_up

from speakup.platform.models import CaseNote, db

# --- Details for the national return -------------------------------------------------------------------


def test_details_are_saved_and_the_queue_filters_by_theme(app, signed):
    ref = gen_concern(signed)["reference"]
    other = gen_concern(signed)["reference"]
    response = act(
        signed,
        ref,
        "details",
        themes=["patient_safety", "bullying_harassment"],
        worker_group="registered_nurses_and_midwives",
        detriment="yes",
    )
    assert was_done(signed, response)
    after = stored(app, ref)
    assert after.themes == ["bullying_harassment", "patient_safety"]
    assert (after.worker_group, after.detriment_reported) == ("registered_nurses_and_midwives", True)
    assert [e.actor_type for e in trail(app, ref) if e.action == "details_recorded"] == ["guardian"]

    page = text_of(signed.get(case_url(ref)))
    assert summary_value(page, "Themes") == "Bullying or harassment; Patient safety or quality"
    assert summary_value(page, "Staff group") == "Registered nurses and midwives"
    assert summary_value(page, "Detriment for speaking up") == "Yes"
    assert 'value="patient_safety" checked' in page and 'value="worker_safety" checked' not in page

    assert refs(queue_rows(signed, theme="patient_safety")) == [ref]
    assert refs(queue_rows(signed, theme="bullying_harassment")) == [ref]
    assert queue_rows(signed, theme="worker_safety") == []
    row = next(r for r in queue_rows(signed) if r["reference"] == ref)
    assert row["themes"] == "Bullying or harassment; Patient safety or quality"
    # Nothing recorded on a case just received: it says it is new, not "Not recorded" (issue 26, point 5).
    assert next(r for r in queue_rows(signed) if r["reference"] == other)["themes"] == "New: not triaged yet"


def test_details_can_be_changed_keeping_a_theme(app, signed):
    ref = gen_concern(signed)["reference"]
    assert was_done(signed, act(signed, ref, "details", themes=["patient_safety", "bullying_harassment"]))
    response = act(signed, ref, "details", themes=["patient_safety", "worker_safety"], detriment="no")
    assert was_done(signed, response)
    after = stored(app, ref)
    assert (after.themes, after.detriment_reported) == (["patient_safety", "worker_safety"], False)
    assert was_done(signed, act(signed, ref, "details", themes=[]))
    assert (stored(app, ref).themes, stored(app, ref).detriment_reported) == ([], None)


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"themes": ["patient_safety", "parking"]}, "themes", "Choose themes from the list"),
    ({"themes": ["patient_safety"], "worker_group": "pilots"}, "worker_group", "Choose a staff group from the list"),
    ({"themes": ["patient_safety"], "detriment": "perhaps"}, "detriment", "Answer yes, no, or leave it unanswered"),
])  # fmt: skip
def test_bad_details_are_refused_and_nothing_is_saved(app, signed, data, field, message):
    ref = gen_concern(signed)["reference"]
    assert was_done(signed, act(signed, ref, "details", themes=["worker_safety"], worker_group="students"))
    before = stored(app, ref)
    page = came_back(signed, act(signed, ref, "details", **data))
    assert field_error(page, field) == message
    assert stored(app, ref) == before
    # What the guardian ticked comes back ticked.
    assert 'value="patient_safety" checked' in page and 'value="worker_safety" checked' not in page


# --- Notes ---------------------------------------------------------------------------------------------


def test_notes_are_for_guardians_only_and_sealed(app, signed):
    marker = "NOTE-7f3a: the rota manager seems defensive"
    raised = gen_concern(signed)
    ref = raised["reference"]
    response = act(signed, ref, "notes", note=marker)
    assert response.status_code == 303 and response.headers["Location"].endswith("#notes")
    page = text_of(signed.get(case_url(ref)))
    assert marker in page and "<strong>Gita Guardian</strong>" in page
    assert stored(app, ref).notes == 1

    assert marker not in reporter_page(following_up(app, raised["access_code"]))
    followup = follow_up_json(app, raised["access_code"])
    assert "NOTE-7f3a" not in str(followup) and followup["messages"] == []
    with app.app_context():
        [body_ct] = db.session.scalars(select(CaseNote.body_ct)).all()
        assert b"NOTE-7f3a" not in body_ct and marker.encode() not in body_ct
        assert b"rota manager" not in body_ct
    assert [e.action for e in trail(app, ref) if e.action == "note_added"] == ["note_added"]
    assert all("NOTE-7f3a" not in str(e.detail) for e in trail(app, ref))


def test_an_empty_note_is_refused(app, signed):
    ref = gen_concern(signed)["reference"]
    page = came_back(signed, act(signed, ref, "notes", note="  "))
    assert field_error(page, "note") == "Write a note before sending it"
    assert stored(app, ref).notes == 0


# --- No caching, and viewing is audited --------------------------------------------------------------


def test_case_content_is_never_cached_and_a_view_is_audited(app, signed, guardian):
    raised = gen_concern(signed, what_happened="The sluice room door is propped open")
    ref = raised["reference"]
    views_before = [e for e in trail(app, ref) if e.action == "case_viewed"]
    assert views_before == []
    response = signed.get(case_url(ref))
    assert response.status_code == 200 and "The sluice room door is propped open" in text_of(response)
    views = [e for e in trail(app, ref) if e.action == "case_viewed"]
    assert [(e.actor_type, e.actor_id) for e in views] == [("guardian", guardian.id)]

    refused = {
        "refused move": act(signed, ref, "status", status="referred"),
        "closing error": act(signed, ref, "close", outcome="", closing_message="x"),
        "stale form": act(signed, ref, "assign", {**load_form(signed, ref), "version": "0"}, assignee=""),
    }
    assert {name: r.status_code for name, r in refused.items()} == dict.fromkeys(refused, 303)
    answers = {
        "case page": response,
        "queue": signed.get("/guardian/"),
        # Each refused form's words and message, on the case page its redirect leads to.
        **{name: signed.get(r.location) for name, r in refused.items()},
        "reporter page": following_up(app, raised["access_code"]).get("/follow-up/case"),
        "reporter api": app.test_client().get(
            "/api/v1/follow-up", headers={"Authorization": f"Bearer {raised['access_code']}"}
        ),
    }
    assert {name: r.status_code for name, r in answers.items()} == {
        "case page": 200,
        "queue": 200,
        "refused move": 200,
        "closing error": 200,
        "stale form": 200,
        "reporter page": 200,
        "reporter api": 200,
    }
    assert {name: r.headers.get("Cache-Control") for name, r in answers.items()} == dict.fromkeys(answers, "no-store")
    # Every page that decrypted the case for the guardian was recorded, error pages included.
    assert len([e for e in trail(app, ref) if e.action == "case_viewed"]) >= 5
