"""The declarative base and the Flask-SQLAlchemy handle. The time rows are stamped with is platform/clock.py's."""

from __future__ import annotations

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
