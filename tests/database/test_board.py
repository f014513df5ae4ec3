"""The board report: charts drawn as page text with tables, small numbers suppressed, guardians only."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select
from support.factories import gen_concern, gen_staff
from support.html import AuthActions
from support.present import found, present, scalar

from speakup.domain import quarters
from speakup.domain.quarters import quarter_of
from speakup.platform import clock
from speakup.platform.models import Case, CaseTheme, db
from speakup.reporting import board
from speakup.reporting.national_return import suppressed_return
from speakup.reporting.suppression import FEEDBACK_RESPONSES, FEEDBACK_YES


def _seed(
    app,
    client,
    count: int,
    *,
    anonymous: int = 0,
    theme: str | None = None,
    created: datetime | None = None,
    ack_after_days: float | None = None,
    yes: int = 0,
    detriment: int = 0,
) -> None:
    refs = [gen_concern(client)["reference"] for _ in range(count)]
    with app.app_context():
        for n, ref in enumerate(refs):
            case = scalar(select(Case).where(Case.reference == ref))
            case.created_at = created or _in_the_last_ended_quarter()
            case.anonymity = "anonymous" if n < anonymous else "open"
            if theme:
                db.session.add(CaseTheme(case_id=case.id, theme=theme))
            if ack_after_days is not None:
                case.acknowledged_at = case.created_at + timedelta(days=ack_after_days)
            if n < yes:
                case.speak_up_again, case.feedback_at = "yes", case.created_at
            case.detriment_reported = n < detriment
        db.session.commit()


def _in_the_last_ended_quarter() -> datetime:
    """Midday on the tenth day of the last quarter that has ended: the newest the board counts."""
    ended = quarters.previous_quarter(clock.uk_today())
    return datetime.combine(ended.start + timedelta(days=9), time(12))


@pytest.fixture
def app_overrides():
    return {"SUBMIT_RATE_LIMIT": "1000 per minute"}


def test_the_report_counts_the_last_ended_quarter_and_suppresses_small_numbers(app, client, guardian):
    _seed(app, client, 7, anonymous=2, theme="patient_safety", ack_after_days=3, yes=6, detriment=1)
    with app.app_context():
        report = board.board_report(clock.utcnow().date(), 4, 7, 90, 5)
    current = report.quarters[-1]
    assert current.raised == 7 and current.anonymous == 2
    assert current.themes["patient_safety"] == 7 and current.themes["bullying_harassment"] == 0
    assert current.median_days_to_acknowledge == 3.0
    assert current.feedback_answers == 6 and current.would_speak_up_again == 6 and current.detriment == 1
    shown = current.shown
    assert (shown["raised"], shown["anonymous"], shown["detriment"]) == (7, "<5", "<5")  # 1 to 4 hidden
    assert (shown["theme:patient_safety"], shown["theme:bullying_harassment"]) == (7, 0)  # 0 shown as 0
    assert (shown["feedback"], shown["yes"]) == (6, 6)
    assert current.channels["online"] == 7 and shown["channel:online"] == 7 and shown["channel:in_person"] == 0

    AuthActions(client).sign_in(guardian)
    page = client.get("/guardian/board")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    row = found(r"Patient safety or quality</th>(.*?)</tr>", html, re.S)
    assert row.rstrip().endswith(">7</td>")
    anonymous_row = re.findall(r"<td[^>]*>([^<]*)</td>", html.split("Raised</th>")[1].split("</table>")[0])
    assert anonymous_row[-2:] == ["7", "&lt;5"]  # 7 raised, 2 anonymously shown as <5
    # Four charts; six tables (themes, anonymity, how raised, referrals, timeliness, feedback).
    assert html.count('class="speakup-chart"') == 4 and html.count("<table") == 7


def test_older_quarters_are_reported_in_their_own_row(app, client, guardian):
    last_year = clock.utcnow() - timedelta(days=200)
    _seed(app, client, 5, created=last_year, theme="worker_safety")
    with app.app_context():
        report = board.board_report(clock.utcnow().date(), 4, 7, 90, 5)
    assert sum(q.raised for q in report.quarters) == 5
    assert report.quarters[-1].raised == 0
    assert sum(q.themes["worker_safety"] for q in report.quarters) == 5


@pytest.mark.parametrize("name", ["themes", "anonymous", "timeliness", "feedback"])
def test_each_chart_is_page_markup_that_runs_nothing_and_loads_nothing(app, client, guardian, name):
    _seed(app, client, 6, theme="patient_safety", ack_after_days=2, yes=5)
    AuthActions(client).sign_in(guardian)
    page = client.get("/guardian/board").get_data(as_text=True)
    chart = found(rf'<figure class="speakup-chart" id="chart-{name}".*?</figure>', page, re.S, group=0)
    assert "<svg" in chart and "<script" not in chart and "<img" not in chart and "style=" not in chart
    assert set(re.findall(r"https?://[^\"\s<]*", chart)) == set()
    # The charts are drawn in the page: the separate SVG addresses they were once loaded from are gone.
    assert client.get(f"/guardian/board/{name}.svg").status_code == 404


def test_administrators_are_refused(app, client, guardian):
    admin_client = app.test_client()
    AuthActions(admin_client).sign_in(gen_staff(app, email="ada@example.org", role="admin", name="Ada Admin"))
    assert admin_client.get("/guardian/board").status_code == 403


def _close_with_learning(client, reference: str, learning: str, share: bool):
    url = f"/guardian/cases/{reference}"
    version = found(r'name="version" value="(\d+)"', client.get(url).get_data(as_text=True))
    data = {
        "outcome": "resolved",
        "closing_message": "Thank you for speaking up.",
        "learning": learning,
        "version": version,
    }
    if share:
        data["share_learning"] = "yes"
    from support.html import post_form

    return post_form(client, url, f"{url}/close", **data)


def test_learning_shared_at_closing_reaches_the_board_by_theme(app, client, guardian):
    shared_ref = gen_concern(client, what_happened="Rota gaps")["reference"]
    private_ref = gen_concern(client, what_happened="Something else")["reference"]
    with app.app_context():
        case = scalar(select(Case).where(Case.reference == shared_ref))
        db.session.add(CaseTheme(case_id=case.id, theme="worker_safety"))
        db.session.commit()
    AuthActions(client).sign_in(guardian)
    assert (
        _close_with_learning(client, shared_ref, "We now staff nights with two nurses.", share=True).status_code == 303
    )
    assert _close_with_learning(client, private_ref, "Kept for guardians only.", share=False).status_code == 303
    page = client.get("/guardian/board").get_data(as_text=True)
    section = page.split('<h2 id="you-said-we-did">You said, we did</h2>')[1]  # the section, not its contents link
    assert "Worker safety or wellbeing" in section and "We now staff nights with two nurses." in section
    assert "Kept for guardians only." not in page
    with app.app_context():
        stored = scalar(select(Case).where(Case.reference == shared_ref))
        assert stored.learning_shareable and b"two nurses" not in present(stored.learning_ct, "learning")
    # The person who raised it never sees the learning text on their side.
    assert "two nurses" not in client.get("/api/v1/follow-up").get_data(as_text=True)


def test_sharing_learning_needs_the_words(app, client, guardian):
    ref = gen_concern(client)["reference"]
    AuthActions(client).sign_in(guardian)
    response = _close_with_learning(client, ref, "", share=True)
    assert response.status_code == 303
    assert "Write what was learned before sharing it with the board" in client.get(response.location).get_data(
        as_text=True
    )


def test_the_board_hides_what_subtraction_would_reveal_as_the_national_return_does(app, client, guardian):
    """Seven answered the feedback question and five said yes: showing both would say that two did not. The
    national return hides "answered" for that; the board used only the primary rule and showed it."""
    _seed(app, client, 7, yes=5)
    with app.app_context():
        for case in db.session.scalars(select(Case).where(Case.speak_up_again.is_(None))):
            case.speak_up_again, case.feedback_at = "no", case.created_at
        db.session.commit()
        report = board.board_report(clock.utcnow().date(), 4, 7, 90, 5)
        quarter = quarters.previous_quarter(clock.uk_today())
        national = {m.key: m.value for m in suppressed_return(quarter)}
    current = report.quarters[-1]
    assert (current.feedback_answers, current.would_speak_up_again) == (7, 5)
    assert (current.shown["feedback"], current.shown["yes"]) == ("<5", 5)
    assert (national[FEEDBACK_RESPONSES], national[FEEDBACK_YES]) == ("<5", 5)  # one rule, the same answer
    AuthActions(client).sign_in(guardian)
    page = client.get("/guardian/board").get_data(as_text=True)
    feedback = page.split("Reported detriment after closing</th></tr></thead>")[1].split("</table>")[0]
    assert re.findall(r"<td[^>]*>([^<]*)</td>", feedback)[-4:] == ["&lt;5", "5", "0", "0"]
    chart = found(r'<figure class="speakup-chart" id="chart-feedback".*?</figure>', page, re.S, group=0)
    assert ">7<" not in chart  # the hidden count is not in the chart either: it is drawn hatched, written "<5"
    latest = chart.split('<p class="speakup-chart__quarter">')[-1]
    answered = found(r'<div class="speakup-chart__row speakup-chart__row--hidden">\s*<dt[^>]*>(.*?)</dt>', latest)
    assert answered == "Answered" and "&lt;5 (hidden)</span>" in latest


def test_a_concern_is_on_the_board_only_once_its_quarter_has_ended(app, client, guardian):
    """A guardian whom the reporter excluded sees no case in their queue, but would see the board's count move: the
    running quarter is not counted at all, so there is no before and after to compare (finding 1 of issue 29)."""
    _seed(app, client, 6, created=clock.utcnow())
    with app.app_context():
        report = board.board_report(clock.uk_today(), 4, 7, 90, 5)
        assert quarter_of(clock.uk_today()) not in [row.quarter for row in report.quarters]
        assert sum(row.raised for row in report.quarters) == 0
        first_day_of_next = quarter_of(clock.uk_today()).next().start
        later = board.board_report(first_day_of_next, 4, 7, 90, 5)
    assert later.quarters[-1].quarter == quarter_of(clock.uk_today()) and later.quarters[-1].raised == 6
    AuthActions(client).sign_in(guardian)
    html = client.get("/guardian/board").get_data(as_text=True)
    current = quarter_of(clock.uk_today())
    assert f"{current.year} Q{current.number}" not in html and "so far" not in html
