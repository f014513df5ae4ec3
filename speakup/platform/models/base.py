"""The declarative base, the Flask-SQLAlchemy handle and the clock every row is stamped with."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)

# The rows' base class. db.Model is made at run time, so a type checker cannot see it as a class: to one it is
# the declarative Base it derives from (Flask-SQLAlchemy adds nothing the models use).
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model


def drop_failed_transaction() -> None:
    """Ends the request's transaction after a database error. When the database cannot even roll back (it went
    away in between), the connection is thrown away instead of pooled."""
    try:
        db.session.rollback()
    except DBAPIError:
        db.session().invalidate()  # scoped_session does not pass invalidate() on


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def minute_now() -> datetime:
    """The time of something a reporter did, or of a sent form: to the minute, which is all any rule needs (the
    deadlines and the national return count days). A finer time would help link a concern to the person who was
    at a computer at that second (issue 24)."""
    return utcnow().replace(second=0, microsecond=0)
