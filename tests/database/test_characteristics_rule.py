"""characteristics.countable, the one rule for showing the voluntary answers, on chosen days:
a quarter counts from the day after its last day, and a question only when at least the floor answered it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import event

from speakup.domain import characteristics
from speakup.domain.quarters import Quarter
from speakup.platform.models import CharacteristicCount, db
from speakup.reporting import board

Q1, Q2 = Quarter(2026, 1), Quarter(2026, 2)


def _answered(quarter: Quarter, question: str, counts: dict[str, int]) -> None:
    for answer, count in counts.items():
        db.session.add(CharacteristicCount(quarter=quarter.label, question=question, answer=answer, count=count))
    db.session.commit()


@pytest.mark.parametrize(
    ("today", "ended"),
    [(Q1.end, False), (Q1.end + timedelta(days=1), True), (Q1.start, False), (Q2.end, True)],
)
def test_a_quarter_counts_only_once_it_has_ended(app, today: date, ended: bool):
    with app.app_context():
        _answered(Q1, "ethnic_group", {"white": 12})
        shown = characteristics.countable([Q1], today, 10)[Q1.label]
    assert shown.ended is ended
    assert shown.counts == ({("ethnic_group", "white"): 12} if ended else {})
    assert shown.enough == (frozenset({"ethnic_group"}) if ended else frozenset())


def test_a_question_counts_when_its_answers_together_reach_the_floor(app):
    with app.app_context():
        _answered(Q1, "ethnic_group", {"white": 7, "asian": 3})  # 10
        _answered(Q1, "age_band", {"25_34": 5, "45_54": 4})  # 9
        shown = characteristics.countable([Q1, Q2], Q2.start, 10)
    assert shown[Q1.label].enough == frozenset({"ethnic_group"})
    assert shown[Q1.label].counts == {("ethnic_group", "white"): 7, ("ethnic_group", "asian"): 3}
    assert shown[Q2.label] == characteristics.Countable(ended=False, counts={}, enough=frozenset())


def test_the_running_quarters_counts_are_not_even_read(app):
    """So no caller can show them by mistake: the query asks for ended quarters only, and none if none has."""
    statements: list[object] = []
    with app.app_context():
        _answered(Q2, "sex", {"female": 30})

        def seen(_conn, _cursor, _statement, parameters, _context, _many):
            statements.append(parameters)

        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            shown = characteristics.countable([Q2], Q2.end, 10)
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
    assert statements == [] and shown[Q2.label].counts == {}


def test_the_board_report_takes_only_what_the_rule_allows(app):
    with app.app_context():
        _answered(Q1, "ethnic_group", {"white": 7, "asian": 3})
        _answered(Q1, "sex", {"female": 9})
        _answered(Q2, "ethnic_group", {"white": 40})
        report = board.board_report(Q2.start + timedelta(days=3), 2, 7, 90, 5, characteristics_min_answers=10)
    before, first = report.quarters  # the two that have ended: Q2, still running, is not on the board at all
    assert (before.quarter, first.quarter) == (Q1.previous(), Q1)
    assert first.characteristics == {"ethnic_group:white": 7, "ethnic_group:asian": 3}
    assert first.shown["about:ethnic_group:white"] == 7 and first.shown["about:ethnic_group:asian"] == "<5"
    assert not [key for key in first.shown if key.startswith("about:sex")]
    assert before.characteristics == {} and not [key for key in before.shown if key.startswith("about:")]
    assert report.characteristics_min_answers == 10
