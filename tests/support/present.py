"""What a test reads back and needs to be there: a row by its id, a query's one value, a value on a page. Each is
typed as present (not Optional), and when it is missing the test fails there, saying what was missing, rather than
with an AttributeError on None a line later. And a mapped class's table, typed as the Table it is; and the check that
what someone typed is stored nowhere in plain (``nowhere_in_plain``)."""

from __future__ import annotations

import re
from typing import TypeVar

from flask import Flask
from sqlalchemy import Table, select
from sqlalchemy.sql.selectable import TypedReturnsRows

from speakup.platform.models import db
from speakup.platform.models.base import Base

T = TypeVar("T")


def get_row(model: type[T], ident: object) -> T:
    """The row of ``model`` whose primary key is ``ident``, in the app context's session."""
    found = db.session.get(model, ident)
    if found is None:
        raise AssertionError(f"no {model.__name__} {ident!r} in the database")
    return found


def scalar(statement: TypedReturnsRows[T]) -> T:
    """The first value ``statement`` selects (``db.session.scalar``), which must be there and not NULL."""
    value = db.session.scalar(statement)
    if value is None:
        raise AssertionError(f"nothing selected by {statement}")
    return value


def present(value: T | None, what: str) -> T:
    """``value``, which must not be None; ``what`` names it in the failure."""
    if value is None:
        raise AssertionError(f"no {what}")
    return value


def found(pattern: str | re.Pattern[str], text: str, flags: int = 0, group: int | str = 1) -> str:
    """Group ``group`` of the first match of ``pattern`` in ``text`` (``re.search``), which must match."""
    match = re.search(pattern, text, flags) if isinstance(pattern, str) else pattern.search(text)
    if match is None:
        shown = pattern if isinstance(pattern, str) else pattern.pattern
        raise AssertionError(f"nothing matches {shown!r}")
    return match.group(group)


def table_of(model: type[Base]) -> Table:
    """The table a mapped class is mapped to (to a type checker ``__table__`` is any FromClause)."""
    table = model.__table__
    assert isinstance(table, Table), table
    return table


def _every_stored_value(app: Flask) -> list[bytes]:
    with app.app_context():
        values: list[bytes] = []
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(select(table)).all():
                for value in row:
                    if isinstance(value, bytes | bytearray | memoryview):
                        values.append(bytes(value))
                    elif value is not None:
                        values.append(str(value).encode())
        return values


def nowhere_in_plain(app: Flask, *secrets: str) -> None:
    """None of ``secrets`` is in any column of any table, as UTF-8 or UTF-16."""
    stored = _every_stored_value(app)
    for secret in secrets:
        for encoded in (secret.encode(), secret.encode("utf-16-le")):
            assert not any(encoded in value for value in stored), "typed words stored in plain"
