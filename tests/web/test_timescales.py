"""Stages and extensions: under Scotland's National Whistleblowing Standards a case is at stage 1
or 2 and a stage 1 case can be moved to stage 2, with new working-day deadlines from that day; under any rules the
date to respond by can be moved later with a reason, which the person who raised it reads too."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from markupsafe import escape
from sqlalchemy import select
from support.factories import case_row, gen_concern
from support.html import VERSION_RE, case_action, reporter_case_page, walk_to
from support.present import found, scalar

from speakup.domain import deadlines, retention
from speakup.ops import audit
from speakup.platform import clock, dates
from speakup.platform.models import AuditEvent, Case, DeadlineExtension, db

REASON = "The ward manager is on leave until the 14th and we need to hear from them before we can answer."


def _today() -> date:
    return clock.uk_today()


def _extend(client, reference: str, new: date, reason: str = REASON, **kwargs):
    day = {"extend_day": str(new.day), "extend_month": str(new.month), "extend_year": str(new.year)}
    return case_action(client, reference, "extend", extend_reason=reason, **day, **kwargs)


def _after(client, response) -> str:
    """The case page a case form's redirect (303, done or refused: never a page of its own) leads to."""
    assert response.status_code == 303, response.status_code
    return client.get(response.location).get_data(as_text=True)


def _done(client, response) -> bool:
    page = _after(client, response)
    return 'id="case-done"' in page and "There is a problem" not in page


def _follow_up(app, code: str) -> tuple[dict, str]:
    api = app.test_client(use_cookies=False).get("/api/v1/follow-up", headers={"Authorization": f"Bearer {code}"})
    return api.get_json(), reporter_case_page(app, code)


@pytest.mark.parametrize("app_overrides", [{"DEADLINE_RULES": "scotland", "SCOTLAND_STAGE": 1}], indirect=True)
def test_a_stage_one_case_moves_to_stage_two_with_deadlines_from_that_day(app, signed):
    raised = gen_concern(signed)
    reference = raised["reference"]
    five = deadlines.working_days_after(_today(), 5, deadlines.SCOTLAND)
    assert case_row(app, reference).stage == 1 and raised["acknowledge_by"] == five.isoformat()
    page = signed.get(f"/guardian/cases/{reference}").get_data(as_text=True)
    assert 'id="stage">Stage 1: early resolution</dd>' in page and "Move to stage 2 (investigation)" in page

    assert _done(signed, case_action(signed, reference, "escalate"))
    case = case_row(app, reference)
    assert case.stage == 2
    assert case.acknowledge_by == deadlines.working_days_after(_today(), 3, deadlines.SCOTLAND)
    assert case.feedback_by == deadlines.working_days_after(_today(), 20, deadlines.SCOTLAND)
    assert case.next_due == case.acknowledge_by  # not yet acknowledged
    page = signed.get(f"/guardian/cases/{reference}").get_data(as_text=True)
    assert 'id="stage">Stage 2: investigation</dd>' in page and "Move to stage 2 (investigation)" not in page
    with app.app_context():
        event = scalar(select(AuditEvent).where(AuditEvent.action == audit.Action.CASE_ESCALATED))
        assert audit.detail_of(event) == {"respond_by": case.feedback_by.isoformat()}

    answer, reporter_page = _follow_up(app, raised["access_code"])
    assert answer["feedback_by"] == case.feedback_by.isoformat()
    assert "Moved to stage 2, a full investigation" in reporter_page

    # Once at stage 2 there is nowhere further to go.
    assert "Only an open case at stage 1" in _after(signed, case_action(signed, reference, "escalate"))


@pytest.mark.parametrize("app_overrides", [{"DEADLINE_RULES": "scotland", "SCOTLAND_STAGE": 1}], indirect=True)
def test_stage_one_is_extended_only_to_ten_working_days(app, signed):
    reference = gen_concern(signed)["reference"]
    longest = deadlines.working_days_after(_today(), 10, deadlines.SCOTLAND)
    refused = _after(signed, _extend(signed, reference, longest + timedelta(days=1)))
    assert f"At stage 1 the response can wait until {dates.written(longest)} at the latest" in refused
    assert _done(signed, _extend(signed, reference, longest))
    case = case_row(app, reference)
    assert (case.acknowledge_by, case.feedback_by) == (longest, longest)  # stage 1 has one deadline


def test_england_shows_no_stage(app, signed):
    page = signed.get(f"/guardian/cases/{gen_concern(signed)['reference']}").get_data(as_text=True)
    assert 'id="stage"' not in page and "Move to stage 2" not in page
    reference = gen_concern(signed)["reference"]
    assert not _done(signed, case_action(signed, reference, "escalate"))
    assert case_row(app, reference).stage is None


def test_an_extension_is_sealed_and_told_to_the_person_with_its_reason(app, signed):
    raised = gen_concern(signed)
    reference = raised["reference"]
    before = case_row(app, reference)
    new = before.feedback_by + timedelta(days=30)
    assert _done(signed, _extend(signed, reference, new))

    case = case_row(app, reference)
    assert (case.feedback_by, case.acknowledge_by) == (new, before.acknowledge_by)
    with app.app_context():
        row = scalar(select(DeadlineExtension).where(DeadlineExtension.case_id == case.id))
        assert (row.from_date, row.to_date) == (before.feedback_by, new)
        assert REASON.encode() not in row.reason_ct
        event = scalar(select(AuditEvent).where(AuditEvent.action == audit.Action.DEADLINE_EXTENDED))
        assert audit.detail_of(event) == {"from_date": before.feedback_by.isoformat(), "to_date": new.isoformat()}
    guardian_page = signed.get(f"/guardian/cases/{reference}").get_data(as_text=True)
    assert str(escape(REASON)) in guardian_page and "(extended)" in guardian_page

    answer, reporter_page = _follow_up(app, raised["access_code"])
    assert answer["feedback_by"] == new.isoformat()
    assert answer["extensions"] == [
        {"created_at": answer["extensions"][0]["created_at"], "to_date": new.isoformat(), "reason": REASON}
    ]
    assert "Why it is taking longer" in reporter_page and str(escape(REASON)) in reporter_page
    assert "More time needed to respond" in reporter_page


def test_a_bad_extension_says_why_by_its_field_and_keeps_the_words(app, signed):
    reference = gen_concern(signed)["reference"]
    current = case_row(app, reference).feedback_by
    cases = [
        (lambda: _extend(signed, reference, current), "The new date must be after"),
        (lambda: _extend(signed, reference, _today() + timedelta(days=400)), "within a year from today"),
        (lambda: _extend(signed, reference, current + timedelta(days=7), reason="  "), "Say why more time is needed"),
        (
            lambda: case_action(
                signed, reference, "extend", extend_day="31", extend_month="2", extend_year="2027", extend_reason=REASON
            ),
            "Enter a real date",
        ),
        (
            lambda: case_action(
                signed, reference, "extend", extend_day="next", extend_month="", extend_year="", extend_reason=REASON
            ),
            "Enter the new date as a day, month and year",
        ),
    ]
    for send, message in cases:
        response = send()
        assert response.location.endswith("#deadlines") and REASON not in response.get_data(as_text=True)
        page = _after(signed, response)
        assert message in page
        assert "<title>Error:" in page and page.index("There is a problem") < page.index("<h1")
        if "Say why" not in message:
            assert str(escape(REASON)) in page  # the reason typed comes back
        if "as a day" in message:
            assert 'value="next"' in page  # and the date as typed
    assert case_row(app, reference).feedback_by == current
    with app.app_context():
        assert db.session.scalar(select(DeadlineExtension)) is None


def test_a_stale_form_or_a_closed_case_extends_nothing(app, signed):
    reference = gen_concern(signed)["reference"]
    current = case_row(app, reference).feedback_by
    stale = found(VERSION_RE, signed.get(f"/guardian/cases/{reference}").get_data(as_text=True))
    walk_to(signed, reference, "acknowledged")
    conflict = _after(signed, _extend(signed, reference, current + timedelta(days=10), version=stale))
    assert str(escape(REASON)) in conflict and "This case changed while you were working on it" in conflict
    walk_to(signed, reference, "closed")
    closed = _after(signed, _extend(signed, reference, current + timedelta(days=10)))
    assert "A closed case has no deadline to extend" in closed
    assert case_row(app, reference).feedback_by == current


def test_retention_shreds_the_reasons(app, signed):
    reference = gen_concern(signed)["reference"]
    assert _done(signed, _extend(signed, reference, case_row(app, reference).feedback_by + timedelta(days=5)))
    walk_to(signed, reference, "acknowledged", "closed")
    with app.app_context():
        case = scalar(select(Case).where(Case.reference == reference))
        case.closed_at = clock.utcnow() - timedelta(days=app.config["RETENTION_DAYS"] + 1)
        db.session.commit()
        assert retention.purge(retention.purge_candidates(clock.utcnow()), dry_run=False).count == 1
        assert db.session.scalar(select(DeadlineExtension)) is None


def test_an_overdue_case_is_extended_to_a_day_still_ahead(app, signed):
    reference = gen_concern(signed)["reference"]
    with app.app_context():
        case = scalar(select(Case).where(Case.reference == reference))
        case.feedback_by = _today() - timedelta(days=10)
        db.session.commit()
    past = _after(signed, _extend(signed, reference, _today() - timedelta(days=2)))
    assert f"The new date must be after {dates.written(_today())}" in past
    assert _done(signed, _extend(signed, reference, _today() + timedelta(days=14)))
