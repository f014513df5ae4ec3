"""Two guardians (or one in two tabs) changing the same case: a stale form is a conflict that keeps what was typed
and changes nothing, whether the page's version or the database's UPDATE catches it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from support.casework import (
    CLOSING,
    CONFLICT,
    act,
    came_back,
    field_error,
    follow_up_json,
    load_form,
    move,
    race_at,
    reporter_page,
    selected,
    status_tag,
    stored,
    summary_value,
    textarea_value,
    timeline_of,
    trail,
    was_done,
)
from support.factories import gen_concern, gen_staff
from support.html import VERSION_RE, following_up, signed_in

# --- Concurrency: optimistic locking -----------------------------------------------------------------


@pytest.fixture(params=["two tabs", "two guardians"])
def desks(request, app, signed, guardian):
    """The first and second guardian's browsers and accounts: one guardian in two tabs, or two guardians."""
    bo = gen_staff(app, email="bo@example.org", name="Bo Backup")
    if request.param == "two tabs":
        return SimpleNamespace(first=signed, second=signed, me=guardian, colleague=bo)
    return SimpleNamespace(first=signed, second=signed_in(app, bo), me=guardian, colleague=bo)


def assert_conflict(client, response, app, ref, state_after_first) -> str:
    page = came_back(client, response)
    assert CONFLICT in page
    assert stored(app, ref) == state_after_first
    # The page shows the current version, so the second guardian can check and send again.
    assert set(VERSION_RE.findall(page)) == {str(state_after_first.version)}
    return page


def test_stale_status_form(app, desks):
    raised = gen_concern(desks.first)
    ref = raised["reference"]
    first, second = load_form(desks.first, ref), load_form(desks.second, ref)
    assert was_done(desks.first, act(desks.first, ref, "status", first, status="acknowledged"))
    state = stored(app, ref)
    response = act(desks.second, ref, "status", second, status="acknowledged", show_name="yes")
    page = assert_conflict(desks.second, response, app, ref, state)
    assert (field_error(page, "status") or "").startswith(CONFLICT)
    assert status_tag(page) == "Acknowledged"
    assert 'id="status-show_name" name="show_name" type="checkbox" value="yes" checked' in page
    assert timeline_of(reporter_page(following_up(app, raised["access_code"]))) == [
        "Concern raised",
        "A guardian has seen your concern",
    ]
    assert [e.detail for e in trail(app, ref) if e.action == "status_changed"] == [
        {"from_status": "received", "to_status": "acknowledged"}
    ]


def test_stale_close_form_keeps_the_closing_message(app, desks):
    raised = gen_concern(desks.first)
    ref = raised["reference"]
    first, second = load_form(desks.first, ref), load_form(desks.second, ref)
    assert was_done(desks.first, act(desks.first, ref, "status", first, status="acknowledged"))
    state = stored(app, ref)
    response = act(
        desks.second, ref, "close", second, outcome="not_upheld", closing_message=CLOSING, close_show_name="yes"
    )
    page = assert_conflict(desks.second, response, app, ref, state)
    assert (field_error(page, "outcome") or "").startswith(CONFLICT)
    assert status_tag(page) == "Acknowledged"
    assert textarea_value(page, "closing_message") == CLOSING
    assert selected(page, "outcome") == "not_upheld"
    assert 'id="close-show_name" name="close_show_name" type="checkbox" value="yes" checked' in page
    assert follow_up_json(app, raised["access_code"])["messages"] == []


def test_two_closings_at_once_do_not_overwrite_the_first(app, desks):
    raised = gen_concern(desks.first)
    ref = raised["reference"]
    first, second = load_form(desks.first, ref), load_form(desks.second, ref)
    assert was_done(desks.first, act(desks.first, ref, "close", first, outcome="resolved", closing_message=CLOSING))
    state = stored(app, ref)
    response = act(desks.second, ref, "close", second, outcome="not_upheld", closing_message="Second thoughts")
    page = assert_conflict(desks.second, response, app, ref, state)
    assert status_tag(page) == "Closed"
    assert state.outcome == "resolved"
    assert [m["body"] for m in follow_up_json(app, raised["access_code"])["messages"]] == [CLOSING]


def test_two_closings_at_once_keep_the_second_guardians_words(app, desks):
    ref = gen_concern(desks.first)["reference"]
    first, second = load_form(desks.first, ref), load_form(desks.second, ref)
    assert was_done(desks.first, act(desks.first, ref, "close", first, outcome="resolved", closing_message=CLOSING))
    words = "Second thoughts: I also spoke to the matron."
    response = act(desks.second, ref, "close", second, outcome="not_upheld", closing_message=words)
    assert words in came_back(desks.second, response)


def test_stale_assign_form(app, desks):
    ref = gen_concern(desks.first)["reference"]
    first, second = load_form(desks.first, ref), load_form(desks.second, ref)
    assert was_done(desks.first, act(desks.first, ref, "assign", first, assignee=str(desks.me.id)))
    state = stored(app, ref)
    response = act(desks.second, ref, "assign", second, assignee=str(desks.colleague.id))
    page = assert_conflict(desks.second, response, app, ref, state)
    assert (field_error(page, "assignee") or "").startswith(CONFLICT)
    assert state.assigned_to_id == desks.me.id
    assert summary_value(page, "Assigned to") == "Gita Guardian"
    assert selected(page, "assignee") == str(desks.colleague.id)


def test_stale_details_form(app, desks):
    ref = gen_concern(desks.first)["reference"]
    first, second = load_form(desks.first, ref), load_form(desks.second, ref)
    response = act(desks.first, ref, "details", first, themes=["patient_safety"], worker_group="students")
    assert was_done(desks.first, response)
    state = stored(app, ref)
    response = act(
        desks.second, ref, "details", second, themes=["worker_safety", "bullying_harassment"], detriment="yes"
    )
    page = assert_conflict(desks.second, response, app, ref, state)
    assert (field_error(page, "themes") or "").startswith(CONFLICT)
    assert (state.themes, state.worker_group, state.detriment_reported) == (["patient_safety"], "students", None)
    assert summary_value(page, "Themes") == "Patient safety or quality"
    # The second guardian's choices come back ticked, ready to send again.
    assert 'value="worker_safety" checked' in page and 'value="bullying_harassment" checked' in page
    assert 'value="patient_safety" checked' not in page
    assert selected(page, "detriment") == "yes"


def test_a_stale_form_can_be_sent_again_from_the_conflict_page(app, desks):
    ref = gen_concern(desks.first)["reference"]
    first, second = load_form(desks.first, ref), load_form(desks.second, ref)
    assert was_done(desks.first, act(desks.first, ref, "status", first, status="acknowledged"))
    assert CONFLICT in came_back(
        desks.second, act(desks.second, ref, "assign", second, assignee=str(desks.colleague.id))
    )
    assert was_done(desks.second, act(desks.second, ref, "assign", assignee=str(desks.colleague.id)))
    after = stored(app, ref)
    assert (after.status, after.assigned_to_id) == ("acknowledged", desks.colleague.id)


RACES: dict[str, tuple[dict[str, object], str]] = {
    "status": ({"status": "acknowledged"}, "status"),
    "close": ({"outcome": "resolved", "closing_message": CLOSING}, "outcome"),
    "assign": ({"assignee": "ME"}, "assignee"),
    "details": ({"themes": ["patient_safety"]}, "themes"),
}


@pytest.mark.parametrize("action", list(RACES))
def test_a_race_decided_by_the_database_is_a_conflict_too(app, signed, guardian, monkeypatch, action):
    ref = gen_concern(signed)["reference"]
    data, field = RACES[action]
    data = {k: (str(guardian.id) if v == "ME" else v) for k, v in data.items()}
    loaded = load_form(signed, ref)
    before = stored(app, ref)
    race_at(monkeypatch, app, ref, "check_version", status="referred")
    page = came_back(signed, act(signed, ref, action, loaded, **data))
    assert (field_error(page, field) or "").startswith(CONFLICT)
    assert status_tag(page) == "Referred"  # the racer's change, shown as it is now
    after = stored(app, ref)
    assert (after.status, after.version, after.messages) == ("referred", before.version + 1, 0)
    assert (after.assigned_to_id, after.themes, after.outcome) == (None, [], None)


def test_a_message_racing_a_status_change_lands_and_overwrites_nothing(app, signed):
    """A message only adds: it waits for the case row and works from what the racer wrote, so nobody's work
    is refused or lost (tests/test_concurrency.py sends fifty at once through gunicorn on PostgreSQL)."""
    ref = gen_concern(signed)["reference"]
    loaded = load_form(signed, ref)
    move(signed, ref, "acknowledged")  # another tab, after the message form was loaded
    before = stored(app, ref)
    response = act(signed, ref, "messages", loaded, body="A message typed during a race")
    assert was_done(signed, response)
    after = stored(app, ref)
    assert (after.status, after.messages) == ("acknowledged", before.messages + 1)
    assert after.version == before.version + 1  # updated_at moved, under the version column
