"""What the person who spoke up sees of their case's handling (the timeline, with a guardian's name only when they
chose to give it) and what their reply does to it (a case waiting for them goes back to the guardian), through the
guardian's case page and the reporter's follow-up page or ``GET /api/v1/follow-up``."""

from __future__ import annotations

import pytest
from support.casework import (
    act,
    bring_to,
    case_url,
    close,
    follow_up_json,
    move,
    race_at,
    reporter_page,
    status_tag,
    stored,
    text_of,
    timeline_of,
    trail,
    was_done,
)
from support.factories import gen_concern
from support.html import CSRF_RE, following_up, post_form
from support.present import found

# --- The reporter's timeline ------------------------------------------------------------------------


def test_timeline_in_plain_words_with_a_name_only_when_the_guardian_chose(app, signed, guardian):
    raised = gen_concern(signed)
    ref, code = raised["reference"], raised["access_code"]
    browser = following_up(app, code)
    assert timeline_of(reporter_page(browser)) == ["Concern raised"]

    move(signed, ref, "acknowledged")
    move(signed, ref, "in_progress", show_name="yes")
    move(signed, ref, "awaiting_reporter", show_name="")
    move(signed, ref, "in_progress")
    move(signed, ref, "referred")
    close(signed, ref, close_show_name="yes")
    move(signed, ref, "in_progress", show_name="yes")

    page = reporter_page(browser)
    assert timeline_of(page) == [
        "Concern raised",
        "A guardian has seen your concern",
        "Being looked into by Gita Guardian",
        "Waiting for your reply",
        "Being looked into",
        "Passed to the team who can act on it",
        "Closed by Gita Guardian",
        "Reopened by Gita Guardian – being looked into again",
    ]
    assert page.count("Gita Guardian") == 3  # only where the guardian chose to show it
    assert guardian.email not in page
    followup = follow_up_json(app, code)
    assert guardian.email not in str(followup) and "Gita Guardian" not in str(followup)


def test_no_name_anywhere_when_the_guardian_never_chooses(app, signed, guardian):
    raised = gen_concern(signed)
    ref = raised["reference"]
    move(signed, ref, "acknowledged")
    assert was_done(signed, act(signed, ref, "messages", body="Thank you, I am looking into it."))
    close(signed, ref)
    page = reporter_page(following_up(app, raised["access_code"]))
    assert timeline_of(page) == ["Concern raised", "A guardian has seen your concern", "Closed"]
    assert "Gita" not in page and guardian.email not in page
    assert "Thank you, I am looking into it." in page


# --- The reporter's reply ------------------------------------------------------------------------------


@pytest.mark.parametrize("face", ["html", "api"])
def test_a_reply_returns_a_case_waiting_for_the_reporter_to_work(app, signed, face):
    raised = gen_concern(signed)
    ref, code = raised["reference"], raised["access_code"]
    bring_to(signed, ref, "awaiting_reporter")
    assert follow_up_json(app, code)["status_label"] == "Waiting for your reply"
    browser = following_up(app, code)
    if face == "html":
        response = post_form(browser, "/follow-up/case", "/follow-up/case/messages", body="The rota is on the wall.")
        assert response.status_code == 303
    else:
        response = app.test_client().post(
            "/api/v1/follow-up/messages",
            json={"body": "The rota is on the wall."},
            headers={"Authorization": f"Bearer {code}"},
        )
        assert response.status_code == 201
    after = stored(app, ref)
    assert after.status == "in_progress"
    followup = follow_up_json(app, code)
    assert (followup["status"], followup["status_label"]) == ("in_progress", "Being looked into")
    assert followup["messages"][-1]["author"] == "reporter"
    page = reporter_page(browser)
    assert timeline_of(page)[-2:] == ["Waiting for your reply", "Being looked into"]
    sent = [e for e in trail(app, ref) if e.action == "message_sent"]
    assert [(e.actor_type, e.actor_id) for e in sent] == [("reporter", None)]
    guardian_page = text_of(signed.get(case_url(ref)))
    assert status_tag(guardian_page) == "In progress" and "The rota is on the wall." in guardian_page


@pytest.mark.parametrize("start", ["received", "in_progress", "referred", "closed"])
def test_a_reply_leaves_other_statuses_alone(app, signed, start):
    raised = gen_concern(signed)
    ref = raised["reference"]
    bring_to(signed, ref, start)
    before = stored(app, ref)
    browser = following_up(app, raised["access_code"])
    assert post_form(browser, "/follow-up/case", "/follow-up/case/messages", body="One more thing.").status_code == 303
    after = stored(app, ref)
    assert (after.status, after.events, after.messages) == (start, before.events, before.messages + 1)


def test_the_automatic_move_on_a_reply_is_audited_as_a_status_change(app, signed):
    raised = gen_concern(signed)
    ref = raised["reference"]
    bring_to(signed, ref, "awaiting_reporter")
    browser = following_up(app, raised["access_code"])
    assert post_form(browser, "/follow-up/case", "/follow-up/case/messages", body="Reply").status_code == 303
    moves = [e for e in trail(app, ref) if e.action == "status_changed"]
    assert moves[-1].detail == {"from_status": "awaiting_reporter", "to_status": "in_progress"}
    assert moves[-1].actor_type in ("reporter", "system")


@pytest.mark.parametrize(
    ("face", "start"),
    [
        ("html", "awaiting_reporter"),
        ("html", "in_progress"),
        ("api", "awaiting_reporter"),
        ("api", "in_progress"),
    ],
)
def test_a_reporter_reply_racing_a_guardian_is_kept_and_overwrites_nothing(app, signed, monkeypatch, face, start):
    raised = gen_concern(signed)
    ref, code = raised["reference"], raised["access_code"]
    bring_to(signed, ref, start)
    browser = following_up(app, code)
    token = found(CSRF_RE, browser.get("/follow-up/case").get_data(as_text=True))
    race_at(monkeypatch, app, ref, "check_message", status="closed")
    words = "My words in a race"
    if face == "html":
        response = browser.post("/follow-up/case/messages", data={"csrf_token": token, "body": words})
        assert response.status_code == 303
        assert words in text_of(browser.get("/follow-up/case"))
    else:
        headers = {"Authorization": f"Bearer {code}"}
        response = app.test_client().post("/api/v1/follow-up/messages", json={"body": words}, headers=headers)
        assert response.status_code == 201
    after = stored(app, ref)
    # The guardian's close stands (a reply to a closed case does not reopen it), and the reply is there.
    assert (after.status, after.messages) == ("closed", 1)
