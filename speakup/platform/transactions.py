"""Where a transaction begins and ends: one unit of work for each request and each command.

- A request commits once, at its end, after everything it wrote (its work, who read what, where its form went) and
  before its answer leaves (``init_app``): a commit that fails is an error page, never an answer saying something
  was done that was not kept. An error page (500 or more, or an error nobody handled) keeps nothing.
- A command is the same (``unit_of_work``, which `flask speakup` wraps round every command), and so is a test that
  calls the domain as a request would.
- Domain functions never commit. An action that refuses, by raising, keeps nothing the request had begun
  (``action``): the view that catches the refusal answers with the form kept or a message, and whatever it then
  records (who read the page) is all that is committed. Conflicts that only a write can find (another request
  changed the case, took the name) are found inside the action, which flushes before it returns.
- What must happen only once the work is kept waits for the commit: ``after_commit``; what it writes is committed
  in a transaction of its own (the emails that the guardians changed, queued once the roster is verified from the
  committed log). An email that a concern or a reply came is queued in the work's own transaction instead.
- A few writes are deliberately committed apart from the rest (``commit_apart``), each for a reason:
  a sent form's claim, which a second send of the same form must see before the first one's work is done;
  a raised concern, kept before its file and counts are tried, since its access code is about to be shown;
  a reporter's answers about themselves (the marker that their case answered, then the counts), which must not
  share a transaction (PostgreSQL stamps every row a transaction writes with its id) with anything that names the
  case, nor with each other;
  and a purge, committed before the SQLite log is truncated so that the shredded bytes leave the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import Flask, Response
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from speakup.platform.models import db, drop_failed_transaction

P = ParamSpec("P")
R = TypeVar("R")
_AFTER_COMMIT = "speakup_after_commit"
_AT_COMMIT = "speakup_at_commit"
_IF_ROLLED_BACK = "speakup_if_rolled_back"
LOG_RACE_ATTEMPTS = 3


def action(run: Callable[P, R]) -> Callable[P, R]:
    """One thing a person asked for: it refuses by raising, and then nothing the request had begun is kept."""

    @wraps(run)
    def refusable(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            result = run(*args, **kwargs)
            db.session.flush()  # a version or a unique name another request took is found here, not at the end
        except BaseException:
            db.session.rollback()
            raise
        return result

    return refusable


def one_place_in_the_log(run: Callable[P, R]) -> Callable[P, R]:
    """An action that appends to the roster log (every change to the guardians, an enrolment link issued or used)
    takes the log's next place. Two at the same moment race for one place and the database refuses the later;
    nothing of it was kept, so it is made again from the start, after the other."""

    refusable = action(run)  # flushed before it returns: the race is lost here, not at the commit

    @wraps(run)
    def attempt(*args: P.args, **kwargs: P.kwargs) -> R:
        for tries in range(1, LOG_RACE_ATTEMPTS + 1):
            try:
                return refusable(*args, **kwargs)
            except IntegrityError:
                if tries == LOG_RACE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    return attempt


def after_commit(then: Callable[[], object]) -> None:
    """Runs ``then`` once the request's (or command's) work is committed; never if it is rolled back. What it writes
    is committed after it, apart."""
    db.session().info.setdefault(_AFTER_COMMIT, []).append(then)


def if_rolled_back(undo: Callable[[], object]) -> None:
    """Runs ``undo`` if the transaction is rolled back (what a process remembers of a write that was not kept)."""
    db.session().info.setdefault(_IF_ROLLED_BACK, []).append(undo)


def at_commit(write: Callable[[], object]) -> None:
    """Makes ``write`` the last thing written before the commit, whoever commits. For a write that takes a lock held
    until the commit (the audit trail's), so the lock is not held while the page is drawn."""
    db.session().info.setdefault(_AT_COMMIT, []).append(write)


def commit() -> None:
    """The boundary's commit, then what waited for it (in the order it was asked for)."""
    db.session.commit()
    waiting = db.session().info.pop(_AFTER_COMMIT, [])
    for then in waiting:
        then()
    if waiting:
        db.session.commit()


def commit_apart() -> None:
    """Commits what the request has written so far, so that what follows is in a transaction of its own. Only for
    the writes the module docstring names."""
    commit()


@contextmanager
def unit_of_work() -> Iterator[None]:
    """A command's (or a test's) work: committed when the block ends, rolled back if it raises."""
    try:
        yield
    except BaseException:
        drop_failed_transaction()
        raise
    commit()


def end_request(response: Response) -> Response:
    """The request's one commit (an error page's answer: its one rollback)."""
    if response.status_code >= 500:
        drop_failed_transaction()
    else:
        commit()
    return response


@event.listens_for(Session, "before_commit")
def _write_last(session: Session) -> None:
    for write in session.info.pop(_AT_COMMIT, []):
        write()


@event.listens_for(Session, "after_commit")
def _kept(session: Session) -> None:
    session.info.pop(_IF_ROLLED_BACK, None)


@event.listens_for(Session, "after_soft_rollback")
def _drop_waiting(session: Session, _previous: object) -> None:
    if not session.in_transaction():  # the whole transaction went: so does what waited for it
        session.info.pop(_AFTER_COMMIT, None)
        session.info.pop(_AT_COMMIT, None)
        for undo in session.info.pop(_IF_ROLLED_BACK, []):
            undo()


def init_app(app: Flask) -> None:
    # Last of the after-request hooks (Flask runs them in reverse), so it commits what every other one wrote.
    app.after_request_funcs.setdefault(None, []).insert(0, end_request)
