"""One transaction boundary (platform/transactions.py): a request or a command commits once, at its end; an error
page keeps nothing; an action that refuses keeps nothing it began; what waits for the commit runs only after it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from speakup.ops import audit
from speakup.platform import transactions
from speakup.platform.models import AuditEvent, db

PACKAGE = Path(__file__).resolve().parents[2] / "speakup"


def _events() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def _count(app: Flask) -> int:
    with app.app_context():
        return _events()


def _write() -> None:
    audit.record(audit.Action.SIGN_OUT, audit.Actor.SYSTEM)


class Refused(Exception):
    pass


@transactions.action
def _write_then_refuse() -> None:
    _write()
    raise Refused()


def test_an_action_that_refuses_keeps_nothing_the_request_began(app: Flask) -> None:
    before = _count(app)
    with app.app_context():
        _write()  # what the request did before the action: gone too, as the view answers the refusal
        with pytest.raises(Refused):
            _write_then_refuse()
        transactions.commit()
    assert _count(app) == before


@pytest.mark.fresh_app  # adds a route
@pytest.mark.parametrize(
    ("answer", "kept"),
    [(200, 1), (303, 1), (404, 1), (500, 0), (503, 0)],
)
def test_a_request_commits_once_at_its_end_and_an_error_page_keeps_nothing(app: Flask, answer: int, kept: int) -> None:
    told: list[str] = []

    def view() -> tuple[str, int]:
        _write()
        transactions.after_commit(lambda: told.append("after the commit"))
        assert not told  # nothing is told before the work is kept
        return "", answer

    app.add_url_rule("/test-writes", "test_writes", view)
    before = _count(app)
    assert app.test_client().get("/test-writes").status_code == answer
    assert _count(app) - before == kept
    assert told == (["after the commit"] if kept else [])


@pytest.mark.fresh_app  # adds a route
def test_a_view_that_fails_keeps_nothing(app: Flask) -> None:
    def view() -> str:
        _write()
        raise RuntimeError("the view failed after writing")

    app.add_url_rule("/test-fails", "test_fails", view)
    before = _count(app)
    assert app.test_client().get("/test-fails").status_code == 500
    assert _count(app) == before


def test_a_reading_is_written_at_the_commit_not_while_the_page_is_drawn(app: Flask) -> None:
    with app.app_context():
        before = _events()
        audit.record_reading(audit.Action.CASE_VIEWED, audit.Actor.SYSTEM)
        assert _events() == before  # no row, so no lock on the chain, until the commit
        transactions.commit()
        assert _events() == before + 1
        with pytest.raises(ValueError):  # refused at once, by the caller, not at the commit
            audit.record_reading(audit.Action.SIGN_OUT, audit.Actor.SYSTEM)


def test_what_waited_for_a_rolled_back_transaction_never_runs(app: Flask) -> None:
    ran: list[str] = []
    with app.app_context():
        _write()
        transactions.after_commit(lambda: ran.append("after"))
        transactions.if_rolled_back(lambda: ran.append("undone"))
        db.session.rollback()
        transactions.commit()
    assert ran == ["undone"]


def _calls(tree: ast.AST, name: str) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == name
    ]


def test_only_the_boundary_commits_and_no_view_rolls_back() -> None:
    """Read every module: ``.commit()`` on the session only in platform/transactions.py (a command commits through
    it); ``rollback()`` and ``refresh()`` in no view."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if PACKAGE / "migrations" in path.parents:
            continue
        source = path.read_text()
        tree = ast.parse(source)
        name = path.relative_to(PACKAGE).as_posix()
        commits = [line for line in _calls(tree, "commit") if "session.commit" in source.splitlines()[line - 1]]
        if commits and name != "platform/transactions.py":
            found.append(f"{name}:{commits} commits")
        if name.startswith("web/"):
            for call in ("rollback", "refresh"):
                if lines := _calls(tree, call):
                    found.append(f"{name}:{lines} calls {call}()")
    assert found == []
