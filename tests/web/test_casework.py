"""The guardian's case workflow on the case page, and what the person who spoke up sees of it.

Everything goes through the real HTML forms (CSRF on, the hidden ``version`` the page carries) and the
reporter's follow-up page or ``GET /api/v1/follow-up``. The lifecycle table is written out here from
DESIGN.md rather than imported from ``speakup.workflow``, so a drift in the code shows up as a failure.
"""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from support.factories import gen_admin, gen_concern, gen_staff
from support.html import CSRF_RE, VERSION_RE, case_address, following_up, post_form, signed_in
from support.lifecycle import ALLOWED, DESIGNED_MOVES, GUARDIAN_LABELS, OPEN, REPORTER_LABELS, ROUTE

from speakup.domain import handling, workflow
from speakup.ops import audit
from speakup.platform.inputs import InvalidInput
from speakup.platform.models import Case, CaseEvent, CaseNote, Message, User, db, utcnow

CONFLICT = "This case changed while you were working on it"

# The lifecycle as DESIGN.md writes it (tests/support/lifecycle.py); every refused move is tried at the domain
# level (tests/database/test_lifecycle.py), one of them here through the page.
TRANSITIONS = DESIGNED_MOVES
REFUSED_ONCE = [("received", "in_progress")]

CLOSING = "We spoke to the ward manager and the rota now has two nurses on nights."


@pytest.fixture
def app_overrides() -> dict[str, object]:
    # The queue tests raise more concerns than one client may submit in an hour by default.
    return {"SUBMIT_RATE_LIMIT": "1000 per hour"}


# --- Helpers ---------------------------------------------------------------------------------------


def case_url(reference: str, action: str = "") -> str:
    return f"/guardian/cases/{reference}" + (f"/{action}" if action else "")


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def load_form(client: FlaskClient, reference: str) -> dict[str, str]:
    """Loads the case page as a browser would: the CSRF token and the version every form on it carries."""
    response = client.get(case_url(reference))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    versions = set(VERSION_RE.findall(page))
    assert len(versions) == 1, versions
    return {"csrf_token": CSRF_RE.search(page).group(1), "version": versions.pop()}


def act(client: FlaskClient, reference: str, action: str, loaded: dict[str, str] | None = None, **data):
    """Submits one form of the case page: from a fresh load, or from ``loaded``, a page loaded earlier."""
    return client.post(case_url(reference, action), data={**(loaded or load_form(client, reference)), **data})


def was_done(client: FlaskClient, response) -> bool:
    """Whether a form was done: answered with a redirect (303) to a page with no refused form on it."""
    if response.status_code != 303:
        return False
    page = text_of(client.get(response.location))
    return "There is a problem" not in page and 'id="form-refused"' not in page


def came_back(client: FlaskClient, response) -> str:
    """A form refused by the rules: answered with a redirect (303), never a page that echoes it (issue 24); the
    page it leads to shows the message by the field and what was typed."""
    assert response.status_code == 303, response.status_code
    return text_of(client.get(response.location))


def move(client: FlaskClient, reference: str, status: str, **data) -> None:
    response = act(client, reference, "status", status=status, **data)
    assert response.status_code == 303
    assert field_error(text_of(client.get(response.location)), "status") is None


def close(client: FlaskClient, reference: str, outcome: str = "resolved", closing_message: str = CLOSING, **data):
    response = act(client, reference, "close", outcome=outcome, closing_message=closing_message, **data)
    assert was_done(client, response)
    return response


def bring_to(client: FlaskClient, reference: str, status: str) -> None:
    if status == "closed":
        move(client, reference, "acknowledged")
        close(client, reference)
        return
    for step in ROUTE[status]:
        move(client, reference, step)


def field_error(page: str, name: str) -> str | None:
    """The message shown next to a field (the design system's error message), or None."""
    match = re.search(rf'id="{name}-error"><span class="nhsuk-u-visually-hidden">Error:</span> (.*?)</span>', page)
    return match.group(1) if match else None


def textarea_value(page: str, name: str) -> str | None:
    match = re.search(rf'<textarea [^>]*id="{name}" name="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    return match.group(1) if match else None


def selected(page: str, name: str) -> str | None:
    match = re.search(rf'<select [^>]*id="{name}" name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert match, f"no select {name}"
    chosen = re.findall(r'<option value="([^"]*)" selected>', match.group(1))
    return chosen[0] if chosen else None


def status_tag(page: str) -> str:
    return re.search(r'id="case-status">([^<]*)<', page).group(1)


def summary_value(page: str, key: str) -> str:
    match = re.search(
        rf'<dt class="nhsuk-summary-list__key">{re.escape(key)}</dt><dd class="nhsuk-summary-list__value">(.*?)</dd>',
        page,
    )
    assert match, f"no summary row {key}"
    return match.group(1)


def follow_up_json(app: Flask, code: str) -> dict:
    response = app.test_client().get("/api/v1/follow-up", headers={"Authorization": f"Bearer {code}"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_json()


def reporter_page(browser: FlaskClient) -> str:
    response = browser.get("/follow-up/case")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    return text_of(response)


def timeline_of(page: str) -> list[str]:
    """The reporter's timeline entries, without their dates ("1 May 2026 at 14:05: Concern raised")."""
    block = re.search(r'<ul class="nhsuk-list" id="timeline">(.*?)</ul>', page, re.S).group(1)
    return [entry.split(": ", 1)[1] for entry in re.findall(r"<li>(.*?)</li>", block, re.S)]


def stored(app: Flask, reference: str) -> SimpleNamespace:
    """What the database holds for a case now."""
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.reference == reference))
        count = lambda model: db.session.scalar(  # noqa: E731
            select(func.count()).select_from(model).where(model.case_id == case.id)
        )
        return SimpleNamespace(
            id=case.id,
            status=case.status,
            version=case.version,
            outcome=case.outcome,
            closed_at=case.closed_at,
            next_due=case.next_due,
            assigned_to_id=case.assigned_to_id,
            worker_group=case.worker_group,
            detriment_reported=case.detriment_reported,
            speak_up_again=case.speak_up_again,
            feedback_at=case.feedback_at,
            themes=[theme.theme for theme in case.themes],
            events=count(CaseEvent),
            messages=count(Message),
            notes=count(CaseNote),
        )


def trail(app: Flask, reference: str) -> list[SimpleNamespace]:
    with app.app_context():
        case_id = db.session.scalar(select(Case.id).where(Case.reference == reference))
        return [
            SimpleNamespace(action=e.action, actor_type=e.actor_type, actor_id=e.actor_id, detail=audit.detail_of(e))
            for e in audit.case_trail(case_id)
        ]


def set_case(app: Flask, reference: str, **values) -> None:
    with app.app_context():
        db.session.execute(update(Case).where(Case.reference == reference).values(**values))
        db.session.commit()


def london_today() -> date:
    return workflow.london_today(utcnow())


# --- 1. Every status transition --------------------------------------------------------------------


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
        select_block = re.search(r'<select [^>]*id="status" name="status"[^>]*>(.*?)</select>', page, re.S).group(1)
        offered = tuple(re.findall(r'<option value="([^"]*)"', select_block))
        assert offered == tuple(t for t in TRANSITIONS[status] if t != "closed")
        move(signed, ref, offered[0])


# --- 2. Closing, and the reporter's feedback --------------------------------------------------------


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
    assert 'id="detriment-yes" name="detriment" type="radio" value="yes" checked' in page
    assert stored(app, ref).feedback_at is None


def test_feedback_is_not_asked_before_closing(app, signed):
    raised = gen_concern(signed)
    browser = following_up(app, raised["access_code"])
    assert "Given your experience, would you speak up again?" not in reporter_page(browser)
    response = post_form(browser, "/follow-up/case", "/follow-up/case/feedback", speak_up_again="yes")
    assert response.status_code == 303
    assert stored(app, raised["reference"]).speak_up_again is None


# --- 3. Reopening ------------------------------------------------------------------------------------


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


# --- 4. The reporter's timeline ------------------------------------------------------------------------


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
    close(signed, ref, show_name="yes")
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


# --- 5. Assignment -------------------------------------------------------------------------------------


HEADING_RE = re.compile(r'<span class="nhsuk-table-responsive__heading"[^>]*>[^<]*</span>')


def cell_text(cell: str) -> str:
    """A table cell as a person reads it: without the small-screen heading, tags or extra spaces."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", HEADING_RE.sub("", cell))).split())


def queue_rows(client: FlaskClient, **filters: object) -> list[dict[str, str]]:
    response = client.get("/guardian/", query_string=filters)
    assert response.status_code == 200, filters
    assert response.headers["Cache-Control"] == "no-store"
    rows = []
    for row in re.findall(r'<tr class="nhsuk-table__row">(.*?)</tr>', response.get_data(as_text=True), re.S):
        cells = re.findall(r'<td class="nhsuk-table__cell">(.*?)</td>', row, re.S)
        plain = [cell_text(cell) for cell in cells]
        link = re.search(r'<a href="(/guardian/cases/[^"]+)">([^<]+)</a>', cells[0])
        # The row links the case it names, by the case's id: never by its reference, which History would keep.
        assert link and link.group(1) == case_address(client.application, link.group(2))
        rows.append(
            dict(zip(("reference", "received", "status", "assigned", "themes", "deadline"), plain, strict=True))
        )
    return rows


def refs(rows: list[dict[str, str]]) -> list[str]:
    return [row["reference"] for row in rows]


def test_assign_to_myself_then_to_a_colleague_then_unassign(app, signed, guardian):
    bo = gen_staff(app, email="bo@example.org", name="Bo Backup")
    raised = gen_concern(signed)
    ref = raised["reference"]
    page = text_of(signed.get(case_url(ref)))
    select_block = re.search(r'<select [^>]*id="assignee"[^>]*>(.*?)</select>', page, re.S).group(1)
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
        db.session.get(User, bo.id).is_active = False
        db.session.commit()
    before = stored(app, ref)
    page = came_back(signed, act(signed, ref, "assign", assignee=str(bo.id)))
    assert field_error(page, "assignee") == "Bo Backup's account is disabled: choose another guardian"
    assert str(bo.id) not in re.search(r'<select [^>]*id="assignee"[^>]*>(.*?)</select>', page, re.S).group(1)
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


# --- 6. Details for the national return -------------------------------------------------------------------


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
    assert next(r for r in queue_rows(signed) if r["reference"] == other)["themes"] == "Not recorded"


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


# --- 7. Notes ---------------------------------------------------------------------------------------------


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


# --- 8. Concurrency: optimistic locking -----------------------------------------------------------------


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
    assert field_error(page, "status").startswith(CONFLICT)
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
    response = act(desks.second, ref, "close", second, outcome="not_upheld", closing_message=CLOSING, show_name="yes")
    page = assert_conflict(desks.second, response, app, ref, state)
    assert field_error(page, "outcome").startswith(CONFLICT)
    assert status_tag(page) == "Acknowledged"
    assert textarea_value(page, "closing_message") == CLOSING
    assert selected(page, "outcome") == "not_upheld"
    assert 'id="close-show_name" name="show_name" type="checkbox" value="yes" checked' in page
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
    assert field_error(page, "assignee").startswith(CONFLICT)
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
    assert field_error(page, "themes").startswith(CONFLICT)
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


def race_at(monkeypatch, app: Flask, ref: str, after: str, **changes) -> None:
    """Lets another guardian's change commit just after this request read the case and passed ``handling.<after>``,
    and before it writes: a real race, which only the version column in the UPDATE can catch."""
    original = getattr(handling, after)

    def then_someone_else_writes(*args, **kwargs):
        result = original(*args, **kwargs)
        monkeypatch.setattr(handling, after, original)  # once
        with db.engine.begin() as connection:
            connection.execute(update(Case).where(Case.reference == ref).values(version=Case.version + 1, **changes))
        return result

    monkeypatch.setattr(handling, after, then_someone_else_writes)


RACES = {
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
    assert field_error(page, field).startswith(CONFLICT)
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


# --- 9. The reporter's reply ------------------------------------------------------------------------------


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
    token = CSRF_RE.search(browser.get("/follow-up/case").get_data(as_text=True)).group(1)
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


# --- 10. The queue --------------------------------------------------------------------------------------


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
    assert rows[late]["deadline"] == f"Acknowledge by {(today - timedelta(days=1)):%-d %B %Y} Overdue"
    assert rows[soon]["deadline"] == f"Acknowledge by {(today + timedelta(days=1)):%-d %B %Y} Due soon"
    assert rows[received]["deadline"] == f"Acknowledge by {(today + timedelta(days=7)):%-d %B %Y} Due"
    assert rows[working]["deadline"].startswith("Feedback by ")
    assert rows[working]["status"] == "In progress" and rows[received]["status"] == "Received"
    assert rows[working]["assigned"] == "Gita Guardian" and rows[received]["assigned"] == "Unassigned"
    assert rows[received]["received"] == f"{today:%-d %b %Y}"
    assert rows[received]["themes"] == "Not recorded"
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


# --- 11. No caching, and viewing is audited --------------------------------------------------------------


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


@pytest.mark.parametrize("answer", [["yes"], {"yes": 1}, 1, None])
def test_feedback_that_is_not_text_is_refused_by_the_domain_layer(app, signed, answer):
    ref = gen_concern(signed)["reference"]
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.reference == ref))
        with pytest.raises(InvalidInput) as refused:
            handling.record_feedback(case, answer)
    assert set(refused.value.errors) == {"speak_up_again"}
