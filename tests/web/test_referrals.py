"""Referrals: who a referred case went to, as a coded value the board counts, and a note
sealed under the case key that only guardians read."""

from __future__ import annotations

from datetime import timedelta

from markupsafe import escape
from sqlalchemy import select
from support.factories import as_if_raised_last_quarter, case_row, gen_concern
from support.html import case_action, walk_to
from support.present import present, scalar

from speakup.domain import retention
from speakup.ops import audit
from speakup.platform import clock
from speakup.platform.models import AuditEvent, Case, db

NOTE = "Passed to the ward's HR business partner, who will meet the manager on Friday."


def _refer(client, reference: str, **fields: str) -> str:
    """Sends the referral form; the case page its redirect leads to (303, done or refused: never a page of its own)."""
    response = case_action(client, reference, "referral", **fields)
    assert response.status_code == 303 and response.location.endswith("#referral")
    return client.get(response.location).get_data(as_text=True)


def _saved(page: str) -> bool:
    return "Referral saved." in page and "There is a problem" not in page


def test_a_referral_is_recorded_coded_and_its_note_sealed(app, signed):
    raised = gen_concern(signed)
    reference = raised["reference"]
    walk_to(signed, reference, "acknowledged", "in_progress", "referred")
    assert "Who was it referred to?" in signed.get(f"/guardian/cases/{reference}").get_data(as_text=True)
    assert _saved(_refer(signed, reference, referred_to="hr", referral_note=NOTE))

    case = case_row(app, reference)
    assert case.referred_to == "hr" and NOTE.encode() not in present(case.referral_ct, "referral")
    page = signed.get(f"/guardian/cases/{reference}").get_data(as_text=True)
    assert '<dd class="nhsuk-summary-list__value" id="referred-to">Human resources</dd>' in page
    assert str(escape(NOTE)) in page
    with app.app_context():
        event = scalar(select(AuditEvent).where(AuditEvent.action == audit.Action.REFERRAL_RECORDED))
        assert audit.detail_of(event) == {"referred_to": "hr"}

    # The person who raised it never sees the note.
    api = app.test_client(use_cookies=False)
    answer = api.get("/api/v1/follow-up", headers={"Authorization": f"Bearer {raised['access_code']}"})
    assert answer.status_code == 200 and NOTE not in answer.get_data(as_text=True)


def test_a_referral_needs_a_referred_case_and_a_choice(app, signed):
    reference = gen_concern(signed)["reference"]
    refused = _refer(signed, reference, referred_to="hr", referral_note=NOTE)
    assert "Move the case to Referred first, then record who it went to" in refused

    walk_to(signed, reference, "acknowledged", "in_progress", "referred")
    page = _refer(signed, reference, referred_to="", referral_note=NOTE)
    assert 'id="referred_to-error"><span class="nhsuk-u-visually-hidden">Error:</span> Choose who' in page
    assert str(escape(NOTE)) in page  # the note they wrote is kept
    assert case_row(app, reference).referred_to is None


def test_the_board_counts_referrals_and_hides_small_numbers(app, signed):
    for n in range(6):
        reference = gen_concern(signed)["reference"]
        walk_to(signed, reference, "acknowledged", "in_progress", "referred")
        assert _saved(_refer(signed, reference, referred_to="hr" if n < 5 else "safeguarding"))
    as_if_raised_last_quarter(app)
    table = signed.get("/guardian/board").get_data(as_text=True).split('id="referrals"')[1].split("</table>")[0]
    assert table.split("Human resources</th>")[1].split("</tr>")[0].rstrip().endswith(">5</td>")
    assert table.split("Safeguarding team</th>")[1].split("</tr>")[0].rstrip().endswith(">&lt;5</td>")


def test_retention_shreds_the_referral_note_and_keeps_the_count(app, signed):
    reference = gen_concern(signed)["reference"]
    walk_to(signed, reference, "acknowledged", "in_progress", "referred")
    assert _saved(_refer(signed, reference, referred_to="external", referral_note=NOTE))
    walk_to(signed, reference, "closed")
    with app.app_context():
        case = scalar(select(Case).where(Case.reference == reference))
        case.closed_at = clock.utcnow() - timedelta(days=app.config["RETENTION_DAYS"] + 1)
        db.session.commit()
        assert retention.purge(retention.purge_candidates(clock.utcnow()), dry_run=False).count == 1
    case = case_row(app, reference)
    assert (case.referral_ct, case.referred_to) == (None, "external")
