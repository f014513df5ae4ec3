"""The characteristics of those speaking up on the board: a guardian who reloads the board around
someone's concern must not see that person's answers appear. Counts are shown only for quarters that have ended,
and only for a question enough people answered that quarter (CHARACTERISTICS_MIN_ANSWERS); nothing else shows or
exports them.

The clock is the service's own (``clock.uk_today()``, what the board and ``count_answers`` use): an
ended quarter's answers are written as the counting would have written them then."""

from __future__ import annotations

import re

import pytest
from support.factories import gen_concern
from support.present import found

from speakup.domain import characteristics, quarters
from speakup.platform import clock
from speakup.platform.models import CharacteristicCount, db
from speakup.reporting import stats_tokens


@pytest.fixture
def app_overrides(request, monkeypatch):
    # A test may give environment variables (request.param), read as the app starts like an operator's settings.
    for name, value in getattr(request, "param", {}).items():
        monkeypatch.setenv(name, value)
    return {"SUBMIT_RATE_LIMIT": "1000 per minute"}


def _this_quarter() -> quarters.Quarter:
    return quarters.quarter_of(clock.uk_today())


def _table(client) -> str:
    page = client.get("/guardian/board")
    assert page.status_code == 200
    return page.get_data(as_text=True).split('id="characteristics"')[1].split("</table>")[0]


def _grid(table: str) -> dict[str, dict[str, str]]:
    """Row label -> quarter label -> what that cell reads, with a cell spanning several rows read in each of them."""
    columns = re.findall(r'<th scope="col"[^>]*>([^<]*)</th>', table)[1:]
    spanning: dict[int, tuple[int, str]] = {}  # column -> (rows still covered, text)
    grid = {}
    for row in re.findall(r"<tr class=\"nhsuk-table__row\">(.*?)</tr>", table, re.S):
        label = found(r'<th scope="row"[^>]*>([^<]*)</th>', row)
        drawn = iter(re.findall(r'<td[^>]*?(?: rowspan="(\d+)")?>([^<]*)</td>', row))
        cells = {}
        for column, quarter in enumerate(columns):
            if spanning.get(column, (0, ""))[0] > 0:
                left, text = spanning[column]
                spanning[column] = (left - 1, text)
            else:
                rowspan, text = next(drawn)
                spanning[column] = (int(rowspan or 1) - 1, text)
            cells[quarter] = spanning[column][1]
        assert next(drawn, None) is None, label
        grid[label] = cells
    return grid


def _column(table: str, quarter: quarters.Quarter) -> dict[str, str]:
    """Row label -> what the quarter's column reads on that row."""
    return {label: cells[f"{quarter.year} Q{quarter.number}"] for label, cells in _grid(table).items()}


def _answered_in(app, quarter: quarters.Quarter, question: str, counts: dict[str, int]) -> None:
    """A past quarter's answers, as count_answers wrote them while it ran."""
    with app.app_context():
        for answer, count in counts.items():
            db.session.add(CharacteristicCount(quarter=quarter.label, question=question, answer=answer, count=count))
        db.session.commit()


def test_a_concern_raised_between_two_loads_of_the_board_changes_nothing_on_it(app, signed):
    """The outside review's defect: load the board, a concern is raised with answers about the person, reload.
    Exactly that person's answers went from 0 to "<5" (or 5 to 6); now the board must read the same."""
    api = app.test_client(use_cookies=False)
    for _ in range(5):
        gen_concern(api, characteristics={"ethnic_group": "white"})
    before = _table(signed)
    gen_concern(api, characteristics={"ethnic_group": "white", "age_band": "25_34", "disability": "yes"})
    assert _table(signed) == before


def test_the_quarter_still_running_is_not_on_the_board_however_many_answered(app, signed):
    """Its counts would move as people answer: a guardian looking before and after one concern would read that
    person's answers as the difference (reporting/board.py counts ended quarters only)."""
    api = app.test_client(use_cookies=False)
    for _ in range(12):
        gen_concern(api, characteristics={"ethnic_group": "white"})
    table = _table(signed)
    current = _this_quarter()
    header = re.findall(r'<th scope="col"[^>]*>([^<]*)</th>', table)
    last = current.previous()
    assert header[-1] == f"{last.year} Q{last.number}"
    assert f"{current.year} Q{current.number}" not in header
    assert ">12<" not in table


def test_an_ended_quarter_with_too_few_answers_to_a_question_shows_nothing_countable(app, signed):
    last = _this_quarter().previous()
    _answered_in(app, last, "ethnic_group", {"white": 6, "asian": 3})  # 9 answered: one short of 10
    table = _table(signed)
    # The question's rows in that quarter are one cell saying why, and no count of theirs is drawn anywhere.
    assert '<td class="nhsuk-table__cell" rowspan="5">Fewer than 10 answered</td>' in table
    assert set(_column(table, last).values()) == {"Fewer than 10 answered"}
    assert not re.search(r">(6|3|&lt;5)</td>", table)


def test_an_ended_quarter_with_enough_answers_shows_the_counts_with_small_numbers_hidden(app, signed):
    last = _this_quarter().previous()
    _answered_in(app, last, "ethnic_group", {"white": 7, "asian": 3})  # 10 answered
    _answered_in(app, last, "age_band", {"25_34": 9})  # 9 answered: still nothing for this question
    table = _table(signed)
    shown = _column(table, last)
    assert shown["Ethnic group: White"] == "7"
    assert shown["Ethnic group: Asian or Asian British"] == "&lt;5"  # the small-number suppression still applies
    assert shown["Ethnic group: Mixed or multiple ethnic groups"] == "0"
    assert shown["Age: 25 to 34"] == shown["Age: Under 25"] == "Fewer than 10 answered"
    assert ">9<" not in table
    # The quarter before has nothing at all: every question there is too few answered.
    assert set(_column(table, last.previous()).values()) == {"Fewer than 10 answered"}
    # Once the quarter has ended its counts are fixed: a concern raised now is filed under the running quarter.
    gen_concern(app.test_client(use_cookies=False), characteristics={"ethnic_group": "white"})
    assert _table(signed) == table


@pytest.mark.parametrize("app_overrides", [{"SPEAKUP_CHARACTERISTICS_MIN_ANSWERS": "3"}], indirect=True)
def test_the_floor_is_the_setting_of_the_same_name(app, signed):
    assert app.config["CHARACTERISTICS_MIN_ANSWERS"] == 3
    last = _this_quarter().previous()
    _answered_in(app, last, "sex", {"female": 2, "male": 1})
    page = signed.get("/guardian/board").get_data(as_text=True)
    assert "only when at least 3 people answered it that quarter" in page
    shown = _column(_table(signed), last)
    assert shown["Sex: Female"] == shown["Sex: Male"] == "&lt;5"
    assert shown["Sex: I use another term"] == "0"
    assert shown["Age: Under 25"] == "Fewer than 3 answered"


def test_no_export_or_api_carries_the_answers(app, signed, runner):
    """Characteristics are on the board only: the national return (the guardian's CSV, the command, the statistics
    API) counts cases, and none of it is about the people who spoke up. Were they ever added, they would have to
    go through characteristics.countable like the board."""
    last = _this_quarter().previous()
    _answered_in(app, last, "ethnic_group", {"white": 40, "black": 17})
    _answered_in(app, _this_quarter(), "religion", {"sikh": 23})
    keys = {q.key for q in characteristics.questions_for(last.start)}
    with app.app_context():
        _row, token = stats_tokens.create_stats_token("dashboard", app.config["TOKEN_PEPPER_BYTES"])
        db.session.commit()
    for period in (last, _this_quarter()):
        # The guardians' download and the API give quarters that have ended; the command counts any quarter.
        query = {"quarter": last.label, "version": "published"}
        download = signed.get("/guardian/reports/national-return.csv", query_string=query)
        command = runner.invoke(args=["speakup", "national-return", "--quarter", period.label])
        api = app.test_client(use_cookies=False).get(
            f"/api/v1/stats?quarter={last.label}", headers={"Authorization": f"Bearer {token}"}
        )
        assert (download.status_code, command.exit_code, api.status_code) == (200, 0, 200)
        measures = [m["key"] for m in api.get_json()["measures"]]
        assert not [key for key in measures if key.split(":")[-1] in keys or key.startswith("about")]
        for text in (download.get_data(as_text=True), command.output, api.get_data(as_text=True)):
            # No case was raised, so every measure is 0: an answer's count or a question's name would be extra.
            assert not re.search(r"\b(40|17|23|57)\b", text), period
            assert not [key for key in keys if key in text], period
