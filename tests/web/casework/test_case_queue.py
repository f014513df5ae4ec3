"""The guardian's queue: its filters (status, assignment, deadline, theme), refused filter values, and pages of 25
rows sorted by the next deadline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support.casework import act, bring_to, london_today, queue_rows, refs, set_case, text_of, was_done
from support.factories import gen_concern

from speakup.platform import dates

# --- The queue --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "value"), [
    ("status", "lost"), ("theme", "parking"), ("assigned", "you"), ("due", "yesterday"), ("page", "0"), ("page", "x"),
])  # fmt: skip
def test_an_invalid_filter_value_is_400(signed, name, value):
    gen_concern(signed)
    response = signed.get("/guardian/", query_string={name: value})
    assert response.status_code == 400
    assert "SU-" not in response.get_data(as_text=True)


def test_queue_filters_by_status_assignment_and_deadline(app, signed, guardian):
    today = london_today()
    received = gen_concern(signed)["reference"]  # acknowledge by today + 7: due this week
    working = gen_concern(signed)["reference"]
    late = gen_concern(signed)["reference"]
    soon = gen_concern(signed)["reference"]
    done = gen_concern(signed)["reference"]
    bring_to(signed, working, "in_progress")  # feedback by today + 90
    bring_to(signed, done, "closed")
    set_case(app, late, next_due=today - timedelta(days=1))
    set_case(app, soon, next_due=today + timedelta(days=1))
    assert was_done(signed, act(signed, working, "assign", assignee=str(guardian.id)))

    assert set(refs(queue_rows(signed))) == {received, working, late, soon}
    assert set(refs(queue_rows(signed, status="received"))) == {received, late, soon}
    assert refs(queue_rows(signed, status="in_progress")) == [working]
    assert refs(queue_rows(signed, status="closed")) == [done]
    assert queue_rows(signed, status="referred") == []
    assert refs(queue_rows(signed, assigned="me")) == [working]
    assert set(refs(queue_rows(signed, assigned="unassigned"))) == {received, late, soon}
    assert refs(queue_rows(signed, due="overdue")) == [late]
    assert refs(queue_rows(signed, due="week")) == [soon, received]
    assert refs(queue_rows(signed, due="week", status="received", assigned="unassigned")) == [soon, received]
    assert queue_rows(signed, due="overdue", assigned="me") == []

    rows = {row["reference"]: row for row in queue_rows(signed)}
    assert refs(queue_rows(signed)) == [late, soon, received, working]  # soonest deadline first
    # Each deadline says which it is: a received case waits to be acknowledged, one in progress for feedback.
    assert rows[late]["deadline"] == f"Acknowledge by {dates.written(today - timedelta(days=1))} Overdue"
    # Soon says how soon; a deadline not yet near needs no tag (issue 26, point 5: once "Due soon" and "Due").
    assert rows[soon]["deadline"] == f"Acknowledge by {dates.written(today + timedelta(days=1))} Due tomorrow"
    assert rows[received]["deadline"] == f"Acknowledge by {dates.written(today + timedelta(days=7))}"
    assert rows[working]["deadline"].startswith("Feedback by ")
    assert rows[working]["status"] == "In progress" and rows[received]["status"] == "Received"
    assert rows[working]["assigned"] == "Gita Guardian" and rows[received]["assigned"] == "Unassigned"
    assert rows[received]["received"] == dates.written(today)
    assert rows[received]["themes"] == "New: not triaged yet" and rows[working]["themes"] == "No themes recorded yet"
    assert queue_rows(signed, status="closed")[0]["deadline"] == "None"


def test_queue_pages_hold_25_rows_sorted_by_the_next_deadline(app, signed):
    today = london_today()
    raised = [gen_concern(signed)["reference"] for _ in range(30)]
    # Deadlines in a scrambled order, all different, so the expected order is unambiguous.
    due = {ref: today + timedelta(days=(i * 7) % 31 - 5) for i, ref in enumerate(raised)}
    for ref, day in due.items():
        set_case(app, ref, next_due=day)
    expected = sorted(raised, key=due.__getitem__)

    first = signed.get("/guardian/")
    page = text_of(first)
    rows = queue_rows(signed)
    assert len(rows) == 25
    assert refs(rows) == expected[:25]
    assert '<a class="nhsuk-pagination__link nhsuk-pagination__link--next" href="/guardian/?page=2">' in page
    assert "nhsuk-pagination__link--prev" not in page

    second = signed.get("/guardian/?page=2")
    page = text_of(second)
    assert refs(queue_rows(signed, page=2)) == expected[25:]
    assert "nhsuk-pagination__link--next" not in page
    assert 'href="/guardian/">' in page or 'href="/guardian/?page=1"' in page
    assert queue_rows(signed, page=3) == []

    # The filters carry over to the next page's link.
    page = text_of(signed.get("/guardian/", query_string={"status": "received"}))
    assert 'href="/guardian/?status=received&page=2"' in page
