"""Rows that belong to no case: the audit chain, statistics tokens, the unlinked characteristic counts and the
markers of which cases answered (named so only the server can tell), and the submissions that make raising a concern
happen once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from speakup.platform import clock
from speakup.platform.models.base import Model


class AuditEvent(Model):
    """Append-only and hash-chained: each row carries the hash of the one before it.

    ``detail`` holds plain, non-identifying facts only (a status, an email of a staff account, a count),
    never concern text, messages or access codes.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    action: Mapped[str] = mapped_column(String(40), index=True)
    actor_type: Mapped[str] = mapped_column(String(20))  # guardian, admin, reporter, system
    actor_id: Mapped[int | None]
    case_id: Mapped[int | None] = mapped_column(index=True)
    detail: Mapped[str] = mapped_column(String(2000), default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class StatsToken(Model):
    """A read-only token for GET /api/v1/stats. Only its keyed hash is stored."""

    __tablename__ = "stats_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    revoked_at: Mapped[datetime | None]
    # What `speakup rotate-pepper` vouched for (reporting/stats_tokens.py): a token found under a fallback pepper
    # opens only while it holds.
    pepper_stamp: Mapped[str | None] = mapped_column(String(64))


class CharacteristicCount(Model):
    """How many people speaking up in a quarter gave an answer to one of the voluntary questions about
    themselves (domain/characteristics.py). A count per quarter, question and answer, and nothing else: no case,
    no person, no time, so no answer can be tied to a concern."""

    __tablename__ = "characteristic_counts"

    quarter: Mapped[str] = mapped_column(String(7), primary_key=True)  # "2026Q4"
    question: Mapped[str] = mapped_column(String(40), primary_key=True)
    answer: Mapped[str] = mapped_column(String(40), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


class CharacteristicsAnswered(Model):
    """One case whose person answered the voluntary questions about themselves, so they are not counted twice
    (domain/characteristics.py). ``lookup`` is a keyed hash of the case's id under the server's pepper: the server
    finds a case's row, but a copy of the database without the pepper cannot tell which case a row is, nor which
    cases answered. Nothing else is kept: no time, no case id, no order that means anything."""

    __tablename__ = "characteristics_answered"

    lookup: Mapped[str] = mapped_column(String(64), primary_key=True)


class Submission(Model):
    """One sent form or one API Idempotency-Key: a second send of the same one finds this row and answers with the
    same concern instead of raising another (domain/submissions.py). ``lookup`` is a keyed hash of the form's
    one-time token or the key; ``answer_ct`` (the access code and what the person was told) is sealed under a key
    derived from that token, which only the person's browser or client holds. Deleted after a day."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    lookup: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # "form" or "api": how long the code is kept differs
    reference: Mapped[str] = mapped_column(String(20))
    answer_ct: Mapped[bytes | None] = mapped_column(LargeBinary)  # None once the person said they saved the code
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow, index=True)


class FormPost(Model):
    """One sent HTML form, by the keyed hash of its one-time nonce (speakup/web/once.py): a second send of the same
    form is answered with where the first went, never by doing it again. ``kept_ct`` holds the words of a form that
    came back with errors, sealed under a key from the nonce and a secret only the sender's cookie holds, for
    ``KEPT_FORM_MINUTES``. Times are to the minute; rows go after ``FORM_HOURS``."""

    __tablename__ = "form_posts"

    lookup: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    target: Mapped[str | None] = mapped_column(String(300))  # the path the answer redirected to
    kept_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    kept_at: Mapped[datetime | None]


class MailOutbox(Model):
    """One email waiting to go to one staff account (speakup/ops/outbox.py): written in the transaction of what it
    announces, so nothing is told of work that was not kept, and deleted once sent, so no trail is left of when a
    reporter acted. It names what to send and to whom by reference, never the text or the address: ``kind`` is one
    of notify.py's fixed "something is waiting" texts (``deadlines``, how many, for a deadlines email only) and
    ``user_id`` the account, whose address is read when it is sent; a row of another kind, or for an account that
    is missing, disabled or not staff, is dropped. ``created_at`` is to the minute; ``send_after`` is a random delay
    after it was queued, so an email leaving cannot be matched by time to a reporter's visit. ``last_error`` is an
    exception's type name only (its text can echo an address or the server's reply)."""

    __tablename__ = "mail_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # a notify.Kind
    user_id: Mapped[int]  # the account (no foreign key: a row for a missing account is dropped when sent)
    deadlines: Mapped[int | None]
    created_at: Mapped[datetime]
    send_after: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    last_error: Mapped[str | None] = mapped_column(String(100))
