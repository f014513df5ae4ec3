"""The audit actions have one list (speakup/ops/audit.py, ``Action``): every action the code records is in it, and
every action in it is recorded somewhere. Read from the source, so a word the list lacks, or a listed action nobody
records any more, shows here rather than the first time that path runs."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from speakup.ops.audit import ACTIONS, READING_ACTIONS, Action

PACKAGE = Path(__file__).resolve().parents[2] / "speakup"
AUDIT_MODULE = PACKAGE / "ops" / "audit.py"  # record_reading hands its own argument on to record
RECORDERS = {"record", "record_reading"}


def _functions() -> Iterator[tuple[Path, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if PACKAGE / "migrations" in path.parents or path == AUDIT_MODULE:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield path, node


def _is_recorder(call: ast.Call) -> bool:
    func = call.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr in RECORDERS
        and isinstance(func.value, ast.Name)
        and func.value.id == "audit"
    )


def _action_names(node: ast.AST) -> set[str]:
    """The members named in an expression: ``audit.Action.X`` or ``Action.X``."""
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and (
            (isinstance(sub.value, ast.Attribute) and sub.value.attr == "Action")
            or (isinstance(sub.value, ast.Name) and sub.value.id == "Action")
        ):
            names.add(sub.attr)
    return names


def _assigned(function: ast.AST, name: str) -> set[str]:
    """The members a local variable is set from in its function (``action = A if reopening else B``)."""
    names: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            names |= _action_names(node.value)
    return names


def _recorded() -> tuple[dict[str, list[str]], list[str]]:
    """Each action recorded, with where; and the calls whose action cannot be read as a member of the list."""
    recorded: dict[str, list[str]] = {}
    unreadable = []
    for path, function in _functions():
        for call in (n for n in ast.walk(function) if isinstance(n, ast.Call) and _is_recorder(n)):
            where = f"{path.relative_to(PACKAGE.parent)}:{call.lineno}"
            first = call.args[0] if call.args else None
            if isinstance(first, ast.Name):
                names = _assigned(function, first.id)
            elif isinstance(first, ast.Attribute) and _action_names(first) == {first.attr}:
                names = {first.attr}
            else:
                names = set()
            if not names:
                unreadable.append(where)
            for name in names:
                recorded.setdefault(name, []).append(where)
    return recorded, unreadable


def test_every_call_names_its_action_from_the_list() -> None:
    _recorded_actions, unreadable = _recorded()
    assert unreadable == []  # each names audit.Action.<NAME>, or a variable set from them


def test_every_action_recorded_is_in_the_list() -> None:
    recorded, _unreadable = _recorded()
    unknown = {name: places for name, places in recorded.items() if name not in Action.__members__}
    assert unknown == {}


def test_every_action_in_the_list_is_recorded_somewhere() -> None:
    recorded, _unreadable = _recorded()
    assert sorted(set(Action.__members__) - set(recorded)) == []


def test_the_other_sets_derive_from_the_list() -> None:
    assert frozenset(Action) == ACTIONS
    assert READING_ACTIONS <= ACTIONS
    # Members are the stored strings themselves (StrEnum), so rows written before the enum compare equal.
    assert all(action == action.value and isinstance(action, str) for action in Action)


def test_the_reading_actions_are_recorded_as_readings() -> None:
    readings = {
        name
        for path, function in _functions()
        for call in ast.walk(function)
        if isinstance(call, ast.Call) and _is_recorder(call) and call.func.attr == "record_reading"  # type: ignore[attr-defined]
        for name in _action_names(call.args[0])
    }
    assert {Action[name] for name in readings} <= READING_ACTIONS
