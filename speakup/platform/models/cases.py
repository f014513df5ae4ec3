"""A case and everything sealed under its key: themes, exclusions, share requests, notes, deadline extensions,
timeline, grants, messages, reporter sessions and files."""

from __future__ import annotations

import secrets
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from speakup.platform import clock
from speakup.platform.models.base import Model
from speakup.platform.models.staff import User

# Case ids are drawn at random, not counted. The id is in every ciphertext's associated data, so knowing it before
# the first INSERT lets a new concern be sealed and wrapped before its transaction starts (on SQLite the one write
# lock is then held for the inserts alone), and an id in an address bar or an export says nothing about how many
# concerns came before it. 31 bits fit PostgreSQL's INTEGER; the primary key refuses a clash, which is retried.
CASE_ID_LIMIT = 2**31 - 1


def new_case_id() -> int:
    return secrets.randbelow(CASE_ID_LIMIT) + 1


class Case(Model):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True, default=new_case_id)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    # HMAC of the access code under the server pepper: one indexed lookup, whatever the case count.
    access_lookup_id: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(30), index=True)
    # Plain values from fixed lists, counted for the national return. Never free text.
    anonymity: Mapped[str] = mapped_column(String(20))
    # How it reached the service (domain/categories.CHANNELS): online, or recorded by a guardian.
    channel: Mapped[str] = mapped_column(String(20), default="online", server_default="online")
    worker_group: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    acknowledge_by: Mapped[date]
    feedback_by: Mapped[date]
    # The next deadline while the case is open (None once closed): the queue sorts and filters on it.
    next_due: Mapped[date | None] = mapped_column(index=True)
    acknowledged_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(40))
    # "You said, we did": what the organisation learned, sealed under the case key, and whether the
    # guardian marked it shareable with the board (the board report decrypts only with a guardian's key).
    learning_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    learning_shareable: Mapped[bool] = mapped_column(default=False)
    # Set when retention crypto-shredded the case: its text, keys and files are gone; the counted
    # plain fields stay so past quarters report the same numbers.
    purged_at: Mapped[datetime | None] = mapped_column(index=True)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # The reporter's answer to the national feedback question, once the case is closed.
    speak_up_again: Mapped[str | None] = mapped_column(String(20))
    detriment_reported: Mapped[bool | None]
    feedback_at: Mapped[datetime | None]
    # Who a referred case went to (domain/categories.REFERRALS) and the guardian's note on it, sealed.
    referred_to: Mapped[str | None] = mapped_column(String(30))
    referral_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Check-ins after closing (config CHECK_IN_DAYS): how many the reporter answered, when they last did, and
    # whether they ever said they suffered detriment since the case closed.
    check_ins_answered: Mapped[int] = mapped_column(default=0, server_default="0")
    checked_in_at: Mapped[datetime | None] = mapped_column(index=True)
    detriment_after_closure: Mapped[bool | None]
    # Whether the person answered the voluntary questions about themselves is deliberately not a column: a plain
    # flag would tell a copy of the database whose answers a quarter's counts are. It is a CharacteristicsAnswered
    # row, named by a keyed hash of the id that only the server can compute (domain/characteristics.py).
    # Under Scotland's National Whistleblowing Standards (DEADLINE_RULES=scotland): stage 1 (early resolution) or 2
    # (investigation); None under other rules.
    stage: Mapped[int | None]
    # When the reporter last wrote (a message, a file, detriment at a check-in), to the minute, for the queue's order;
    # and how many times, for its "reply waiting": more than a guardian's grant.read_writes (times are too coarse to
    # tell a reply from the read in the same minute).
    reporter_wrote_at: Mapped[datetime | None] = mapped_column(index=True)
    reporter_writes: Mapped[int] = mapped_column(default=0, server_default="0")
    # How many of the guardian's messages the reporter's case page has shown them, so it can say which are new
    # (a count, like reporter_writes: no time or anything else about the person's reading is kept).
    reporter_seen_guardian_messages: Mapped[int] = mapped_column(default=0, server_default="0")
    # Sealed under the case key: what happened, where, when (one JSON document), and identity.
    concern_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    identity_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The language the person was using when they raised it (a code of platform/languages.KNOWN), so a guardian can
    # arrange an interpreter. Sealed like the name: it is about the person (in a small team it may single them out),
    # and nothing counts it. None: not recorded (raised before it was, or in a language not on the list).
    language_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The guardians the reporter asked to keep out (a concern about a guardian), sealed too: a plain row would
    # tell any database reader "this concern is about guardian X". Whoever holds the case key can read it.
    exclusions_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    protocol: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it once

    messages: Mapped[list[Message]] = relationship(back_populates="case", order_by="Message.id")
    themes: Mapped[list[CaseTheme]] = relationship(cascade="all, delete-orphan", order_by="CaseTheme.theme")
    assigned_to: Mapped[User | None] = relationship()

    __table_args__ = (
        Index("ix_cases_status_next_due", "status", "next_due"),
        # The queue's "Needs you now" (domain/triage.py): partial, so they hold only the few cases they find and cost
        # a new concern nothing; the queries write the same literal conditions, so both databases use them.
        Index(
            "ix_cases_detriment",
            "next_due",
            sqlite_where=text("detriment_reported = 1 OR detriment_after_closure = 1"),
            postgresql_where=text("detriment_reported = true OR detriment_after_closure = true"),
        ),
        Index(
            "ix_cases_reporter_writes",
            "reporter_writes",
            sqlite_where=text("reporter_writes > 0"),
            postgresql_where=text("reporter_writes > 0"),
        ),
    )


class CaseTheme(Model):
    """One national-return theme of a case (a case may have several). A plain value from a fixed list."""

    __tablename__ = "case_themes"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    theme: Mapped[str] = mapped_column(String(60), primary_key=True, index=True)


class CaseExclusion(Model):
    """A guardian the reporter chose to keep out of their case, as stored before exclusions were sealed
    (``Case.exclusions_ct``). Still honoured where present; `flask speakup exclusions seal` moves them."""

    __tablename__ = "case_exclusions"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)


class ShareRequest(Model):
    """A guardian asked to share a case with a guardian the reporter excluded: nothing is shared until a second
    guardian who holds the case confirms. Who it would go to is sealed under the case key, like the exclusion."""

    __tablename__ = "share_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    target_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)

    requested_by: Mapped[User | None] = relationship()


class CaseNote(Model):
    """A guardian-only note, sealed under the case key like everything else. Never shown to the reporter."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    guardian_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)
    protocol: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)

    guardian: Mapped[User | None] = relationship()


class DeadlineExtension(Model):
    """The date to respond by moved later, and why: the reason is sealed under the case key (the reporter reads it
    too, as the Standards ask that they are told why), the dates are plain."""

    __tablename__ = "deadline_extensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    guardian_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    from_date: Mapped[date]
    to_date: Mapped[date]
    reason_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)

    guardian: Mapped[User | None] = relationship()


class CaseEvent(Model):
    """One step of a case's timeline, which the reporter sees in plain words. No free text."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # raised, status, assigned, reopened, closed, shared...
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str | None] = mapped_column(String(30))
    guardian_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    show_guardian_name: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)

    guardian: Mapped[User | None] = relationship()


class CaseGrant(Model):
    """The case key wrapped for one recipient: a guardian, the recovery key, or the reporter's code."""

    __tablename__ = "case_grants"
    __table_args__ = (UniqueConstraint("case_id", "recipient", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    recipient: Mapped[str] = mapped_column(String(20))  # a GrantRecipient (roles.py)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    salt: Mapped[bytes | None] = mapped_column(LargeBinary)  # reporter grants: HKDF salt
    protocol: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=clock.minute_now)  # granted when raised, often: to the minute
    # A guardian's grant only: when they last opened the case (to the minute), and how many of the reporter's writes
    # the case had then (Case.reporter_writes), so the queue can say a reply is waiting for them.
    read_at: Mapped[datetime | None]
    read_writes: Mapped[int | None]


class Message(Model):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Random id bound into the associated data before the row has a database id.
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(20))  # an Author (roles.py)
    guardian_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)
    protocol: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)

    case: Mapped[Case] = relationship(back_populates="messages")


class ReporterSession(Model):
    """A reporter's follow-up on the HTML pages: the case key sealed under a key only the cookie has.

    No address, no user agent: only what is needed to end the session when idle.
    """

    __tablename__ = "reporter_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    case_key_ct: Mapped[bytes] = mapped_column(LargeBinary)
    last_seen_at: Mapped[datetime] = mapped_column(default=clock.utcnow, index=True)


class Attachment(Model):
    """A file from the reporter, sealed under the case key (name and bytes alike). Image metadata is
    stripped before sealing."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    filename_ct: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)
    protocol: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
