"""A case's status on the guardian's case page: every move the lifecycle allows and refuses, closing with an outcome
and the reporter's feedback, and reopening; what the person who spoke up sees of each.

Everything goes through the real HTML forms (CSRF on, the hidden ``version`` the page carries) and the
reporter's follow-up page or ``GET /api/v1/follow-up``. The lifecycle table is written out from docs/interface.md
(tests/support/lifecycle.py) rather than imported from ``speakup.workflow``, so a drift in the code shows up as a
failure.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from support.casework import (
    CLOSING,
    act,
    bring_to,
    came_back,
    case_url,
    close,
    field_error,
    follow_up_json,
    move,
    reporter_page,
    selected,
    status_tag,
    stored,
    summary_value,
    text_of,
    textarea_value,
    timeline_of,
    trail,
)
from support.factories import gen_concern
from support.html import case_address, following_up, post_form
from support.lifecycle import ALLOWED, DESIGNED_MOVES, GUARDIAN_LABELS, OPEN, REPORTER_LABELS
from support.present import found, scalar

from speakup.domain import handling
from speakup.platform.inputs import InvalidInput
from speakup.platform.models import Case

# The lifecycle as docs/interface.md writes it (tests/support/lifecycle.py); every refused move is tried at the domain
# level (tests/database/test_lifecycle.py), one of them here through the page.
TRANSITIONS = DESIGNED_MOVES
REFUSED_ONCE = [("received", "in_progress")]


# --- Every status transition --------------------------------------------------------------------


@pytest.mark.parametrize(("start", "target"), ALLOWED)
def test_allowed_move_succeeds_and_the_reporter_sees_it(app, signed, start, target):
    raised = gen_concern(signed)
    ref = raised["reference"]
    bring_to(signed, ref, start)
    before = stored(app, ref)
    response = act(signed, ref, "status", status=target)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(case_address(app, ref))
    after = stored(app, ref)
    assert (after.status, after.version, after.events) == (target, before.version + 1, before.events + 1)
    followup = follow_up_json(app, raised["access_code"])
    assert (followup["status"], followup["status_label"]) == (target, REPORTER_LABELS[target])
    last = [e for e in trail(app, ref) if e.action in ("status_changed", "case_reopened")][-1]
    assert last.action == ("case_reopened" if start == "closed" else "status_changed")
    assert last.detail == {"from_status": start, "to_status": target}
    page = text_of(signed.get(case_url(ref)))
    assert status_tag(page) == GUARDIAN_LABELS[target]


@pytest.mark.parametrize(("start", "target"), REFUSED_ONCE)
def test_refused_move_comes_back_with_a_message_and_changes_nothing(app, signed, start, target):
    raised = gen_concern(signed)
    ref = raised["reference"]
    bring_to(signed, ref, start)
    before, before_trail = stored(app, ref), trail(app, ref)
    page = came_back(signed, act(signed, ref, "status", status=target))
    message = f"A case that is {GUARDIAN_LABELS[start].lower()} cannot move there"
    assert field_error(page, "status") == message
    assert status_tag(page) == GUARDIAN_LABELS[start]
    assert stored(app, ref) == before
    new_events = trail(app, ref)[len(before_trail) :]
    assert {e.action for e in new_events} == {"case_viewed"}
    assert follow_up_json(app, raised["access_code"])["status"] == start


@pytest.mark.parametrize("start", list(TRANSITIONS))
def test_closing_through_the_status_form_is_refused(app, signed, start):
    raised = gen_concern(signed)
    ref = raised["reference"]
    bring_to(signed, ref, start)
    before = stored(app, ref)
    page = came_back(signed, act(signed, ref, "status", status="closed"))
    assert field_error(page, "status") == ("Close a case with the closing form: it needs an outcome and a message")
    assert stored(app, ref) == before


def test_the_status_select_offers_only_allowed_moves(app, signed):
    ref = gen_concern(signed)["reference"]
    for status in ("received", "acknowledged", "in_progress"):
        page = signed.get(case_url(ref)).get_data(as_text=True)
        select_block = found(r'<select [^>]*id="status" name="status"[^>]*>(.*?)</select>', page, re.S)
        offered = tuple(re.findall(r'<option value="([^"]+)"', select_block))  # after the blank "Choose" option
        assert offered == tuple(t for t in TRANSITIONS[status] if t != "closed")
        move(signed, ref, offered[0])


# --- Closing, and the reporter's feedback --------------------------------------------------------


def test_close_without_an_outcome_keeps_the_message_and_changes_nothing(app, signed):
    raised = gen_concern(signed)
    ref = raised["reference"]
    move(signed, ref, "acknowledged")
    before = stored(app, ref)
    page = came_back(signed, act(signed, ref, "close", outcome="", closing_message=CLOSING))
    assert field_error(page, "outcome") == "Choose the outcome of this case"
    assert field_error(page, "closing_message") is None
    assert textarea_value(page, "closing_message") == CLOSING
    assert '<details class="nhsuk-details" id="close" open>' in page
    assert stored(app, ref) == before
    followup = follow_up_json(app, raised["access_code"])
    assert (followup["status"], followup["messages"], followup["feedback_requested"]) == ("acknowledged", [], False)


@pytest.mark.parametrize("closing_message", ["", "   \n  "])
def test_close_without_a_closing_message_keeps_the_outcome_and_changes_nothing(app, signed, closing_message):
    raised = gen_concern(signed)
    ref = raised["reference"]
    before = stored(app, ref)
    page = came_back(signed, act(signed, ref, "close", outcome="not_upheld", closing_message=closing_message))
    assert field_error(page, "closing_message") == "Write a closing message to the person who raised this"
    assert field_error(page, "outcome") is None
    assert selected(page, "outcome") == "not_upheld"
    assert stored(app, ref) == before
    assert follow_up_json(app, raised["access_code"])["status"] == "received"


def test_close_with_neither_names_both_fields(app, signed):
    ref = gen_concern(signed)["reference"]
    before = stored(app, ref)
    page = came_back(signed, act(signed, ref, "close", outcome="", closing_message=""))
    assert field_error(page, "outcome") == "Choose the outcome of this case"
    assert field_error(page, "closing_message") == "Write a closing message to the person who raised this"
    assert stored(app, ref) == before


def test_an_unknown_outcome_is_refused(app, signed):
    ref = gen_concern(signed)["reference"]
    before = stored(app, ref)
    page = came_back(signed, act(signed, ref, "close", outcome="swept_under_the_carpet", closing_message=CLOSING))
    assert field_error(page, "outcome") == "Choose the outcome of this case"
    assert stored(app, ref) == before


@pytest.mark.parametrize("start", OPEN)
def test_any_open_case_can_be_closed(app, signed, start):
    raised = gen_concern(signed)
    ref = raised["reference"]
    bring_to(signed, ref, start)
    close(signed, ref, outcome="partly_resolved")
    after = stored(app, ref)
    assert (after.status, after.outcome, after.next_due) == ("closed", "partly_resolved", None)
    assert after.closed_at is not None
    closed = [e for e in trail(app, ref) if e.action == "case_closed"]
    assert [e.detail for e in closed] == [{"from_status": start, "outcome": "partly_resolved"}]


def test_closing_a_closed_case_again_is_refused(app, signed):
    ref = gen_concern(signed)["reference"]
    bring_to(signed, ref, "closed")
    before = stored(app, ref)
    page = came_back(signed, act(signed, ref, "close", outcome="withdrawn", closing_message="Closing twice"))
    assert "This case is already closed" in page
    assert stored(app, ref) == before


@pytest.mark.parametrize(("answer", "detriment", "stored_detriment", "shown"), [
    ("maybe", "yes", True, "Yes"),
    ("no", "", None, "Not known"),
    ("dont_know", "no", False, "No"),
])  # fmt: skip
def test_closing_reaches_the_reporter_who_answers_the_feedback_question(
    app, signed, answer, detriment, stored_detriment, shown
):
    raised = gen_concern(signed)
    ref, code = raised["reference"], raised["access_code"]
    move(signed, ref, "acknowledged")
    close(signed, ref, outcome="resolved")

    after = stored(app, ref)
    assert (after.status, after.outcome, after.speak_up_again, after.feedback_at) == ("closed", "resolved", None, None)
    followup = follow_up_json(app, code)
    assert (followup["status"], followup["status_label"], followup["feedback_requested"]) == ("closed", "Closed", True)
    assert [(m["author"], m["body"]) for m in followup["messages"]] == [("guardian", CLOSING)]

    browser = following_up(app, code)
    page = reporter_page(browser)
    assert "Outcome: Resolved." in page
    assert "Given your experience, would you speak up again?" in page
    assert CLOSING in page
    assert status_tag(page) == "Closed"

    response = post_form(
        browser, "/follow-up/case", "/follow-up/case/feedback", speak_up_again=answer, detriment=detriment
    )
    assert response.status_code == 303
    after = stored(app, ref)
    assert (after.speak_up_again, after.detriment_reported) == (answer, stored_detriment)
    assert after.feedback_at is not None
    assert [e.actor_type for e in trail(app, ref) if e.action == "feedback_given"] == ["reporter"]

    page = reporter_page(browser)
    assert "Given your experience, would you speak up again?" not in page
    assert "Thank you for answering our question about speaking up again." in page
    assert follow_up_json(app, code)["feedback_requested"] is False

    guardian_page = text_of(signed.get(case_url(ref)))
    labels = {"maybe": "Maybe", "no": "No", "dont_know": "I don't know"}  # the question's own answers
    assert summary_value(guardian_page, "Would speak up again") == labels[answer]
    assert summary_value(guardian_page, "Detriment for speaking up") == shown


def test_feedback_without_an_answer_is_refused_on_the_page(app, signed):
    raised = gen_concern(signed)
    ref = raised["reference"]
    bring_to(signed, ref, "closed")
    browser = following_up(app, raised["access_code"])
    response = post_form(browser, "/follow-up/case", "/follow-up/case/feedback", speak_up_again="", detriment="yes")
    page = came_back(browser, response)
    assert field_error(page, "speak_up_again") == "Choose yes, no, maybe or I don't know"
    assert 'id="detriment" name="detriment" type="radio" value="yes" checked' in page
    assert stored(app, ref).feedback_at is None


def test_feedback_is_not_asked_before_closing(app, signed):
    raised = gen_concern(signed)
    browser = following_up(app, raised["access_code"])
    assert "Given your experience, would you speak up again?" not in reporter_page(browser)
    response = post_form(browser, "/follow-up/case", "/follow-up/case/feedback", speak_up_again="yes")
    assert response.status_code == 303
    assert stored(app, raised["reference"]).speak_up_again is None


# --- Reopening ------------------------------------------------------------------------------------


def test_reopening_a_closed_case_is_allowed_and_audited(app, signed, guardian):
    raised = gen_concern(signed)
    ref = raised["reference"]
    bring_to(signed, ref, "closed")
    page = signed.get(case_url(ref)).get_data(as_text=True)
    assert ">Reopen case</button>" in page and 'id="close"' not in page
    move(signed, ref, "in_progress")

    after = stored(app, ref)
    assert (after.status, after.closed_at, after.outcome) == ("in_progress", None, None)
    assert after.next_due is not None
    reopened = [e for e in trail(app, ref) if e.action == "case_reopened"]
    assert len(reopened) == 1
    assert (reopened[0].actor_type, reopened[0].actor_id) == ("guardian", guardian.id)
    assert reopened[0].detail == {"from_status": "closed", "to_status": "in_progress"}

    followup = follow_up_json(app, raised["access_code"])
    assert (followup["status"], followup["status_label"], followup["feedback_requested"]) == (
        "in_progress",
        "Being looked into",
        False,
    )
    page = reporter_page(following_up(app, raised["access_code"]))
    assert timeline_of(page)[-1] == "Reopened – being looked into again"
    assert "Outcome:" not in page
    assert "Given your experience, would you speak up again?" not in page
    # The reopened case is back in the open queue, and can be closed again.
    assert ref in signed.get("/guardian/").get_data(as_text=True)
    close(signed, ref, outcome="withdrawn")
    assert stored(app, ref).outcome == "withdrawn"


@pytest.mark.parametrize("answer", [["yes"], {"yes": 1}, 1, None])
def test_feedback_that_is_not_text_is_refused_by_the_domain_layer(app, signed, answer):
    ref = gen_concern(signed)["reference"]
    with app.app_context():
        case = scalar(select(Case).where(Case.reference == ref))
        with pytest.raises(InvalidInput) as refused:
            handling.record_feedback(case, answer)
    assert set(refused.value.errors) == {"speak_up_again"}


def test_the_status_select_starts_blank_and_a_blank_send_changes_nothing(app, signed):
    """One press of Update status never changes what the person who raised it sees: the select starts on a blank
    choice, and sending it blank is refused by the field, nothing changed or recorded."""
    raised = gen_concern(signed)
    ref = raised["reference"]
    page = text_of(signed.get(case_url(ref)))
    options = found(r'<select [^>]*id="status"[^>]*>(.*?)</select>', page, re.S)
    assert re.match(r'\s*<option value="">Choose a new status</option>', options)
    assert " selected" not in options
    before, before_trail = stored(app, ref), trail(app, ref)
    page = came_back(signed, act(signed, ref, "status", status=""))
    assert field_error(page, "status") == "Choose a new status"
    assert '<a href="#status">Choose a new status</a>' in page
    assert status_tag(page) == GUARDIAN_LABELS["received"]
    assert stored(app, ref) == before
    assert {e.action for e in trail(app, ref)[len(before_trail) :]} == {"case_viewed"}
    assert follow_up_json(app, raised["access_code"])["status"] == "received"
