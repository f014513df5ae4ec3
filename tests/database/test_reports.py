"""The quarterly national return: counts against hand-counted expectations, small-number suppression, lists
versioned by period, the `ngo-return` and `stats-token` commands, GET /api/v1/stats and the guardian download."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event, select
from support.factories import gen_admin, gen_concern
from support.openapi import check_api_answer
from support.returns import (
    EXPECTED,
    NURSES,
    STUDENTS,
    all_zero,
    audit_details,
    expected_csv_rows,
    read_csv,
    seed,
    seed_quarters,
)

from speakup.domain import categories, quarters
from speakup.domain.quarters import parse_quarter
from speakup.platform import clock
from speakup.platform.models import AuditEvent, StatsToken, db
from speakup.reporting import national_return, suppression
from speakup.reporting.suppression import Measure, suppress

API = "/api/v1"


def as_dict(measures: list[Measure]) -> dict[str, int | str]:
    return {m.key: m.value for m in measures}


# --- Quarters ------------------------------------------------------------------------------------------


def test_quarters_are_calendar_quarters_in_uk_time():
    q3 = parse_quarter("2026Q3")
    assert (q3.start, q3.end, q3.label) == (date(2026, 7, 1), date(2026, 9, 30), "2026Q3")
    assert (parse_quarter("2026q1").start, parse_quarter("2026-Q1").end) == (date(2026, 1, 1), date(2026, 3, 31))
    assert parse_quarter(" 2025Q4 ").end == date(2025, 12, 31)
    # BST: UK midnight on 1 July is 23:00 UTC the day before; GMT: UK midnight on 1 January is midnight UTC.
    assert q3.utc_bounds() == (datetime(2026, 6, 30, 23, 0), datetime(2026, 9, 30, 23, 0))
    assert parse_quarter("2026Q4").utc_bounds() == (datetime(2026, 9, 30, 23, 0), datetime(2027, 1, 1, 0, 0))
    assert quarters.previous_quarter(date(2026, 2, 10)).label == "2025Q4"
    assert quarters.previous_quarter(date(2026, 8, 10)).label == "2026Q2"


@pytest.mark.parametrize(
    ("financial", "calendar", "months"),
    [
        ("2026/27 Q1", "2026Q2", "April to June 2026"),
        ("2026/27Q2", "2026Q3", "July to September 2026"),
        ("2026/27 q3", "2026Q4", "October to December 2026"),
        (" 2026/27 Q4 ", "2027Q1", "January to March 2027"),
        ("1999/00 Q4", "2000Q1", "January to March 2000"),
    ],
)
def test_the_nhs_financial_quarter_names_the_same_months(financial, calendar, months):
    """NHS England counts by financial quarters (the year starts in April); --quarter 2026Q3 keeps meaning July to
    September, and both forms name the same quarter."""
    quarter = parse_quarter(financial)
    assert quarter == parse_quarter(calendar)
    assert quarter.financial_heading == financial.strip().replace("/27Q", "/27 Q").replace("q", "Q")
    assert quarter.months == months


def test_ended_quarters_are_offered_newest_first_never_the_running_one():
    offered = quarters.ended_quarters(date(2026, 12, 7), 4)
    assert [q.financial_heading for q in offered] == ["2026/27 Q2", "2026/27 Q1", "2025/26 Q4", "2025/26 Q3"]
    assert quarters.ended_quarters(date(2027, 1, 1), 1)[0].financial_heading == "2026/27 Q3"
    assert not parse_quarter("2026Q4").has_ended(date(2026, 12, 31))
    assert parse_quarter("2026Q4").has_ended(date(2027, 1, 1))


@pytest.mark.parametrize(
    "text",
    [
        *("", None, "2026", "2026Q0", "2026Q5", "Q3 2026", "26Q3", "1999Q1", "2026Q3x", "\u0662\u0660\u0662\u0666Q3"),
        *("2026/28 Q1", "2026/27 Q5", "2026/27", "2026-27 Q1", "2999/00 Q4"),
    ],
)
def test_a_bad_quarter_is_refused(text):
    with pytest.raises(quarters.BadQuarter):
        parse_quarter(text)


# --- Counting ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("quarter", sorted(EXPECTED))
def test_every_measure_matches_the_hand_count(app, quarter):
    with app.app_context():
        seed_quarters()
        measures = national_return.national_return(parse_quarter(quarter))
    expected = {**all_zero(quarter), **EXPECTED[quarter]}
    assert [m.key for m in measures] == list(expected)  # every measure, in a stable order
    assert as_dict(measures) == expected
    # The worker-group rows add up to the cases raised.
    groups = [m.value for m in measures if m.part_of == "cases_raised"]
    assert sum(int(g) for g in groups) == expected["cases_raised"]  # a suppression label ("<5") fails


def test_measures_are_named_in_plain_words(app):
    with app.app_context():
        labels = [m.label for m in national_return.national_return(parse_quarter("2026Q2"))]
    assert labels[:7] == [
        "Cases raised",
        "Cases raised anonymously",
        "Cases with an element of patient safety or quality",
        "Cases with an element of worker safety or wellbeing",
        "Cases with an element of bullying or harassment",
        "Cases with an element of inappropriate attitudes or behaviours",
        "Cases where the person reported detriment for speaking up",
    ]
    assert "Worker group: Registered nurses and midwives" in labels
    assert labels[-4:] == [
        "Worker group: not recorded",
        "Feedback responses",
        "Feedback responses saying they would speak up again",
        "Check-ins after closing where the person reported detriment for speaking up",
    ]


def test_the_return_is_counted_by_a_fixed_number_of_queries(app):
    """COUNT queries in the database: the number of statements does not grow with the number of cases."""
    with app.app_context():
        seed_quarters()
        statements: list[str] = []

        def count(*_args):
            statements.append("x")

        engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            national_return.national_return(parse_quarter("2026Q2"))
            few = len(statements)
            for day in range(30):
                seed(datetime(2026, 5, 1, 9, 0) + timedelta(days=day), worker_group=NURSES, themes=("patient_safety",))
            db.session.commit()
            statements.clear()
            counted = as_dict(national_return.national_return(parse_quarter("2026Q2")))
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert counted["cases_raised"] == 37 and counted["theme:patient_safety"] == 33
    assert len(statements) == few <= 5


# --- Lists versioned by period --------------------------------------------------------------------------


def test_an_old_quarter_reports_under_the_lists_that_applied_then(app, monkeypatch):
    old = categories._LISTS[0]
    new_groups = {k: v for k, v in old.worker_groups.items() if k != STUDENTS} | {"volunteers": "Volunteers"}
    new = categories.ReturnLists(
        starts=date(2026, 7, 1),
        worker_groups=new_groups,
        themes={**old.themes, "digital": "Digital systems"},
    )
    monkeypatch.setattr(categories, "_LISTS", (old, new))
    with app.app_context():
        seed(datetime(2026, 5, 1, 9, 0), worker_group=STUDENTS)
        seed(datetime(2026, 5, 2, 9, 0), worker_group=NURSES, themes=("patient_safety",))
        seed(datetime(2026, 8, 1, 9, 0), worker_group="volunteers", themes=("digital",))
        seed(datetime(2026, 8, 2, 9, 0), worker_group=STUDENTS)  # no longer on the list in Q3
        db.session.commit()
        q2 = national_return.national_return(parse_quarter("2026Q2"))
        q3 = national_return.national_return(parse_quarter("2026Q3"))
    q2_values, q3_values = as_dict(q2), as_dict(q3)
    # Q2 reports under the old list: students is a row, volunteers and the new theme are not.
    assert q2_values[f"worker_group:{STUDENTS}"] == 1 and q2_values[f"worker_group:{NURSES}"] == 1
    assert "worker_group:volunteers" not in q2_values and "theme:digital" not in q2_values
    assert [m.key for m in q2 if m.part_of] == [f"worker_group:{g}" for g in old.worker_groups] + [
        "worker_group_not_recorded"
    ]
    # Q3 reports under the new list.
    assert q3_values["worker_group:volunteers"] == 1 and q3_values["theme:digital"] == 1
    assert f"worker_group:{STUDENTS}" not in q3_values
    assert q3_values["worker_group_not_recorded"] == 1
    assert "Cases with an element of digital systems" in [m.label for m in q3]


# --- Suppression --------------------------------------------------------------------------------------


def group(total: int, **cells: int) -> list[Measure]:
    return [Measure("cases_raised", "Cases raised", total)] + [
        Measure(f"worker_group:{name}", name, value, "cases_raised") for name, value in cells.items()
    ]


def feedback(responses: int, yes: int) -> list[Measure]:
    return [
        Measure("feedback_responses", "Feedback responses", responses),
        Measure("feedback_would_speak_up_again", "Would speak up again", yes),
    ]


def revealed_by_subtraction(measures: list[Measure]) -> int | None:
    """What a reader could work out: the total minus the shown rows, when exactly one row is hidden."""
    values = as_dict(measures)
    total = values["cases_raised"]
    cells = [m.value for m in measures if m.part_of == "cases_raised"]
    hidden = [v for v in cells if not isinstance(v, int)]
    if not isinstance(total, int) or len(hidden) != 1:
        return None
    return total - sum(v for v in cells if isinstance(v, int))


def primary_only(measures: list[Measure], below: int = 5) -> list[Measure]:
    return [Measure(m.key, m.label, "<5" if 0 < int(m.value) < below else m.value, m.part_of) for m in measures]


def test_primary_suppression_hides_1_to_4_and_shows_0():
    measures = [Measure(f"m{v}", f"m{v}", v) for v in (0, 1, 2, 3, 4, 5, 6, 100)]
    assert [m.value for m in suppress(measures)] == [0, "<5", "<5", "<5", "<5", 5, 6, 100]
    # The label is built from the threshold.
    assert [m.value for m in suppress(measures, below=10)] == [0, "<10", "<10", "<10", "<10", "<10", "<10", 100]
    assert [m.value for m in suppress(measures, below=1)] == [0, 1, 2, 3, 4, 5, 6, 100]


def test_one_hidden_worker_group_takes_the_next_smallest_with_it():
    measures = group(26, a=12, b=3, c=5, d=0, e=6)
    # Primary suppression alone would let the total give the small count away...
    assert revealed_by_subtraction(primary_only(measures)) == 3
    # ...so the next-smallest non-zero row (c, 5) is hidden too, and the zero stays 0.
    result = as_dict(suppress(measures))
    assert result == {
        "cases_raised": 26,
        "worker_group:a": 12,
        "worker_group:b": "<5",
        "worker_group:c": "<5",
        "worker_group:d": 0,
        "worker_group:e": 6,
    }
    assert revealed_by_subtraction(suppress(measures)) is None


def test_hidden_rows_that_must_all_be_1_are_protected_too():
    # Two hidden rows adding up to 2 can only be 1 and 1: the next-smallest row is hidden as well.
    result = as_dict(suppress(group(28, a=1, b=1, c=6, d=20)))
    assert result == {
        "cases_raised": 28,
        "worker_group:a": "<5",
        "worker_group:b": "<5",
        "worker_group:c": "<5",
        "worker_group:d": 20,
    }
    # Two hidden rows that could be split several ways need nothing more.
    assert as_dict(suppress(group(25, a=2, b=3, c=20))) == {
        "cases_raised": 25,
        "worker_group:a": "<5",
        "worker_group:b": "<5",
        "worker_group:c": 20,
    }


def test_no_secondary_suppression_when_nothing_can_be_subtracted():
    # Nothing small: nothing hidden.
    assert as_dict(suppress(group(15, a=10, b=5, c=0))) == {
        "cases_raised": 15,
        "worker_group:a": 10,
        "worker_group:b": 5,
        "worker_group:c": 0,
    }
    # The total is itself hidden: nothing to subtract from.
    assert as_dict(suppress(group(3, a=2, b=1, c=0))) == {
        "cases_raised": "<5",
        "worker_group:a": "<5",
        "worker_group:b": "<5",
        "worker_group:c": 0,
    }


@pytest.mark.parametrize(
    ("responses", "yes", "shown"),
    [
        (12, 10, ("<5", 10)),  # 2 did not say yes: responses - yes would show it, so responses is hidden
        (12, 3, (12, "<5")),  # yes hidden; the rest (9) is not published, so yes cannot be worked out
        (3, 3, ("<5", "<5")),
        (7, 0, (7, 0)),
        (10, 10, (10, 10)),  # everyone said yes: 0 is not a small number to hide
        (10, 5, (10, 5)),
        (0, 0, (0, 0)),
    ],
)
def test_feedback_suppression(responses, yes, shown):
    result = suppress(feedback(responses, yes))
    assert tuple(m.value for m in result) == shown
    # Whatever is shown, the number who did not say yes is never a small number a reader can compute.
    r, y = (m.value for m in result)
    if isinstance(r, int) and isinstance(y, int):
        assert not 0 < r - y < 5


def test_suppression_on_the_seeded_return(app):
    with app.app_context():
        seed_quarters()
        values = as_dict(suppression.suppress(national_return.national_return(parse_quarter("2026Q2"))))
    assert values["cases_raised"] == 7
    assert values["raised_anonymously"] == "<5"
    assert values["theme:patient_safety"] == "<5"
    assert values[f"worker_group:{NURSES}"] == "<5"
    assert values["worker_group:allied_health_professionals"] == 0
    assert values["feedback_responses"] == "<5"
    assert not any(isinstance(v, int) and 0 < v < 5 for v in values.values())


# --- CSV and the ngo-return command --------------------------------------------------------------------


SUBMISSION_LABEL = "For submission to the national collection: not for publication."


@pytest.mark.parametrize("command", ["national-return", "ngo-return"])
@pytest.mark.parametrize("quarter", ["2026Q2", "2026/27 Q1", "2026/27Q1"])
def test_the_national_return_command_prints_exact_counts_for_submission(app, runner, command, quarter):
    """A return submitted with "<5" in it makes the national figures wrong: the file for NHS England has exact
    counts, says it is not for publication, and its making is audited. `ngo-return` is the same command."""
    with app.app_context():
        seed_quarters()
    result = runner.invoke(args=["speakup", command, "--quarter", quarter])
    assert result.exit_code == 0, result.output
    rows = read_csv(result.stdout)
    assert rows == expected_csv_rows("2026Q2", published=False)
    assert ["Cases raised anonymously", "2"] in rows and ["Feedback responses", "3"] in rows  # 1 to 4 shown as they are
    assert ["Worker group: Additional professional, scientific and technical", "0"] in rows  # a quoted comma
    assert SUBMISSION_LABEL in result.stderr
    assert audit_details(app, "export") == [
        {
            "actor_type": "system",
            "actor_id": None,
            "format": "csv",
            "period": "2026Q2",
            "reason": "command_line",
            "version": "submission",
        }
    ]


def test_the_published_return_applies_the_suppression_rule(app, runner):
    with app.app_context():
        seed_quarters()
    result = runner.invoke(args=["speakup", "national-return", "--quarter", "2026Q2", "--published"])
    assert result.exit_code == 0, result.output
    assert read_csv(result.stdout) == expected_csv_rows("2026Q2", published=True)
    assert SUBMISSION_LABEL not in result.stderr and "small numbers suppressed" in result.stderr
    assert [d["version"] for d in audit_details(app, "export")] == ["published"]


def test_the_command_counts_the_running_quarter_too(app, client, runner):
    """The operator's command (who holds the database anyway) may count the quarter still running; the guardians'
    page offers only quarters that have ended."""
    gen_concern(client, anonymity="anonymous")
    current = quarters.quarter_of(clock.uk_today()).label
    result = runner.invoke(args=["speakup", "national-return", "--quarter", current])
    assert result.exit_code == 0, result.output
    rows = read_csv(result.stdout)
    assert ["Cases raised", "1"] in rows and ["Cases raised anonymously", "1"] in rows


@pytest.mark.parametrize("command", ["national-return", "ngo-return"])
@pytest.mark.parametrize("quarter", ["2026Q5", "2026/28 Q1", "next quarter", ""])
def test_the_national_return_command_refuses_a_bad_quarter(app, runner, command, quarter):
    result = runner.invoke(args=["speakup", command, "--quarter", quarter])
    assert result.exit_code == 2
    assert "--quarter" in result.output and "2026Q3" in result.output and "2026/27 Q2" in result.output
    assert "measure,value" not in result.output
    assert audit_details(app, "export") == []


@pytest.mark.parametrize("command", ["national-return", "ngo-return"])
def test_the_national_return_command_needs_a_quarter(runner, command):
    result = runner.invoke(args=["speakup", command])
    assert result.exit_code == 2 and "--quarter" in result.output


# --- Statistics tokens -----------------------------------------------------------------------------------

TOKEN_RE = re.compile(r"^stats-token: (\S+)$", re.MULTILINE)


def create_token(runner, name: str = "board dashboard") -> str:
    result = runner.invoke(args=["speakup", "stats-token", "create", "--name", name])
    assert result.exit_code == 0, result.output
    match = TOKEN_RE.search(result.stdout)
    assert match
    return match.group(1)


def test_stats_token_create_list_revoke(app, runner):
    token = create_token(runner)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # 32 random bytes, URL-safe
    with app.app_context():
        (row,) = db.session.scalars(select(StatsToken)).all()
        assert row.name == "board dashboard" and row.revoked_at is None
        assert row.token_hash != token and token not in row.token_hash
    # A second active token with the same name is refused, so revoking by name is unambiguous.
    again = runner.invoke(args=["speakup", "stats-token", "create", "--name", "board dashboard"])
    assert again.exit_code != 0 and "already exists" in again.output
    listed = runner.invoke(args=["speakup", "stats-token", "list"])
    assert listed.exit_code == 0 and "board dashboard" in listed.output and "active" in listed.output
    assert token not in listed.output

    revoked = runner.invoke(args=["speakup", "stats-token", "revoke", "--name", "board dashboard"])
    assert revoked.exit_code == 0, revoked.output
    listed = runner.invoke(args=["speakup", "stats-token", "list"])
    assert "revoked" in listed.output
    missing = runner.invoke(args=["speakup", "stats-token", "revoke", "--name", "board dashboard"])
    assert missing.exit_code != 0 and "No active statistics token" in missing.output
    # After revoking, the name can be used again, with a different token.
    assert create_token(runner) != token

    created, revoked = audit_details(app, "stats_token_created"), audit_details(app, "stats_token_revoked")
    assert (len(created), [e["count"] for e in revoked]) == (2, [1])
    assert all(e["actor_type"] == "system" for e in created + revoked)
    with app.app_context():
        assert all(token not in r.detail for r in db.session.scalars(select(AuditEvent)))


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "two\nlines"])
def test_stats_token_needs_a_sensible_name(app, runner, name):
    result = runner.invoke(args=["speakup", "stats-token", "create", "--name", name])
    assert result.exit_code != 0 and "name" in result.output
    with app.app_context():
        assert db.session.scalars(select(StatsToken)).all() == []


# --- GET /api/v1/stats -----------------------------------------------------------------------------------


@pytest.fixture
def document(app):
    return app.test_client().get(f"{API}/openapi.json").get_json()


def stats(app, document, token: str | None, quarter: str | None = "2026Q2"):
    client = app.test_client(use_cookies=False)
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    url = f"{API}/stats" + (f"?quarter={quarter}" if quarter is not None else "")
    response = client.get(url, headers=headers)
    check_api_answer(app, document, "GET", f"{API}/stats", response)  # matches the OpenAPI document
    return response


def test_stats_answers_the_suppressed_return_for_a_valid_token(app, runner, document):
    with app.app_context():
        seed_quarters()
        expected = [[m.label, m.value] for m in national_return.suppressed_return(parse_quarter("2026Q2"))]
    token = create_token(runner)
    response = stats(app, document, token)
    assert response.status_code == 200
    body = response.get_json()
    assert body["quarter"] == "2026Q2" and body["suppress_below"] == 5
    assert [[m["measure"], m["value"]] for m in body["measures"]] == expected
    values = {m["key"]: m["value"] for m in body["measures"]}
    assert values["cases_raised"] == 7 and values["raised_anonymously"] == "<5"
    assert response.headers["Cache-Control"] == "no-store"
    assert stats(app, document, token, "2026q3").get_json()["quarter"] == "2026Q3"
    assert [(e["format"], e["period"]) for e in audit_details(app, "export")] == [
        ("json", "2026Q2"),
        ("json", "2026Q3"),
    ]


def test_stats_follows_the_configured_threshold(app, runner, document):
    app.config["SUPPRESS_BELOW"] = 10
    with app.app_context():
        seed_quarters()
    body = stats(app, document, create_token(runner)).get_json()
    assert body["suppress_below"] == 10
    assert {m["key"]: m["value"] for m in body["measures"]}["cases_raised"] == "<10"


def test_stats_refuses_wrong_revoked_missing_tokens_and_access_codes(app, runner, document):
    token = create_token(runner)
    access_code = gen_concern(app.test_client())["access_code"]
    for bad in (None, "", "not-a-token", token + "x", token.upper(), access_code):
        response = stats(app, document, bad)
        assert response.status_code == 401, bad
        assert response.headers["WWW-Authenticate"] == "Bearer"
    basic = app.test_client().get(f"{API}/stats?quarter=2026Q2", headers={"Authorization": f"Basic {token}"})
    assert basic.status_code == 401
    assert stats(app, document, token).status_code == 200
    runner.invoke(args=["speakup", "stats-token", "revoke", "--name", "board dashboard"])
    assert stats(app, document, token).status_code == 401
    assert len(audit_details(app, "export")) == 1  # only the successful one


def test_a_stats_token_opens_no_concern(app, runner):
    gen_concern(app.test_client())
    token = create_token(runner)
    client = app.test_client(use_cookies=False)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"{API}/follow-up", headers=headers).status_code == 401
    assert client.post(f"{API}/follow-up/messages", headers=headers, json={"body": "hello"}).status_code == 401


@pytest.mark.parametrize("quarter", [None, "", "2026Q9", "soon"])
def test_stats_refuses_a_bad_quarter(app, runner, document, quarter):
    response = stats(app, document, create_token(runner), quarter)
    assert response.status_code == 422
    assert "quarter" in response.get_json()["error"]["fields"]
    assert audit_details(app, "export") == []


@pytest.mark.parametrize("ahead", [0, 1])
def test_stats_gives_a_quarter_only_once_it_has_ended(app, client, runner, document, ahead):
    """A dashboard polled every few minutes would show the running quarter's count move as each concern arrives,
    to whoever watches it, a guardian a reporter excluded among them."""
    gen_concern(client)
    quarter = quarters.quarter_of(clock.uk_today())
    if ahead:
        quarter = quarter.next()
    response = stats(app, document, create_token(runner), quarter.label)
    assert response.status_code == 409
    assert "has not ended" in response.get_json()["error"]["message"]
    assert audit_details(app, "export") == []
    last = quarters.previous_quarter(clock.uk_today())
    assert stats(app, document, create_token(runner, "second"), last.label).status_code == 200


def test_stats_is_in_the_openapi_document_with_its_own_scheme(document):
    operation = document["paths"]["/stats"]["get"]
    assert operation["security"] == [{"statsToken": []}]
    scheme = document["components"]["securitySchemes"]["statsToken"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    for path in ("/follow-up", "/follow-up/messages", "/follow-up/feedback"):
        (follow_up,) = document["paths"][path].values()
        assert follow_up["security"] == [{"accessCode": []}]


# --- The guardian's download ------------------------------------------------------------------------------


NEW_URL = "/guardian/reports/national-return.csv"


@pytest.mark.parametrize(
    ("version", "published", "filename"),
    [
        ("submission", False, "national-return-2026-27-Q1-for-submission.csv"),
        ("published", True, "national-return-2026-27-Q1-published.csv"),
    ],
)
def test_guardian_downloads_the_national_return(app, client, auth, guardian, version, published, filename):
    with app.app_context():
        seed_quarters()
    assert auth.sign_in(guardian).status_code == 303
    page = client.get("/guardian/reports")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<h1>National return for NHS England</h1>" in html
    assert f'<form method="get" action="{NEW_URL}"' in html
    last, running = quarters.previous_quarter(clock.uk_today()), quarters.quarter_of(clock.uk_today())
    assert f'<option value="{last.label}" selected>{last.financial_heading} ({last.months})</option>' in html
    assert f'value="{running.label}"' not in html  # still running: not offered
    assert '<option value="2026Q2">2026/27 Q1 (April to June 2026)</option>' in html
    assert "For submission to NHS England" in html and "For publication" in html
    assert ">Download the national return</button>" in html
    assert "National Guardian" not in html

    response = client.get(NEW_URL, query_string={"quarter": "2026Q2", "version": version})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{filename}"'
    assert response.headers["Cache-Control"] == "no-store"
    assert read_csv(response.get_data(as_text=True)) == expected_csv_rows("2026Q2", published=published)
    assert audit_details(app, "export") == [
        {"actor_type": "guardian", "actor_id": guardian.id, "format": "csv", "period": "2026Q2", "version": version}
    ]


RUNNING, NEXT = "running", "next"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"quarter": "2026Q7", "version": "submission"}, "for example 2026/27 Q2"),
        ({"quarter": RUNNING, "version": "submission"}, "has not ended"),
        ({"quarter": NEXT, "version": "published"}, "has not ended"),
        ({"quarter": "2026Q2", "version": "everything"}, "Choose which version"),
        ({"quarter": "2026Q2"}, "Choose which version"),
    ],
)
def test_a_download_that_cannot_be_made_shows_the_form_again(app, client, auth, guardian, query, message):
    """A quarter still running is never counted for guardians: an excluded guardian could otherwise watch its
    counts move and learn when a concern they cannot see was raised (docs/threat-model.md)."""
    running = quarters.quarter_of(clock.uk_today())
    chosen = {RUNNING: running, NEXT: running.next()}.get(query["quarter"])
    if chosen is not None:
        query = {**query, "quarter": chosen.label}
        message = f"{chosen.financial_heading} {message}"
    auth.sign_in(guardian)
    response = client.get(NEW_URL, query_string=query)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "There is a problem" in html and message in html
    assert audit_details(app, "export") == []


def test_the_old_address_of_the_download_leads_to_the_new_one(app, client, auth, guardian):
    auth.sign_in(guardian)
    response = client.get("/guardian/reports/ngo-return.csv?quarter=2026Q2&version=published")
    assert response.status_code == 301
    assert response.headers["Location"] == f"{NEW_URL}?quarter=2026Q2&version=published"
    assert audit_details(app, "export") == []


def test_only_signed_in_guardians_download_the_return(app, client, auth):
    query = {"quarter": "2026Q2", "version": "submission"}
    response = client.get(NEW_URL, query_string=query)
    assert response.status_code == 302 and "/guardian/sign-in" in response.headers["Location"]
    assert client.get("/guardian/reports").status_code == 302
    admin = gen_admin(app)
    auth.sign_in(admin)
    assert client.get(NEW_URL, query_string=query).status_code == 403
    assert audit_details(app, "export") == []
