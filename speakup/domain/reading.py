"""Reading a case back: decrypting it for a guardian or for the person who raised it.

The reporter's view is a strict subset: no identity, no notes, no guardian names unless a
guardian chose to show theirs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import update

from speakup.crypto import labels, sealing
from speakup.domain import workflow
from speakup.domain.categories import (
    CHANNELS,
    ONLINE,
    OUTCOME_LABELS,
    REFERRALS,
    SPEAK_UP_AGAIN,
    ReturnLists,
    lists_for,
)
from speakup.ops import audit
from speakup.platform import clock, languages, transactions
from speakup.platform.models import Author, Case, CaseEvent, CaseGrant, CaseNote, GrantRecipient, db
from speakup.platform.translation import gettext as _
from speakup.platform.translation import lazy_gettext as _l


@dataclass(frozen=True)
class MessageView:
    author: str
    body: str
    created_at: datetime


@dataclass(frozen=True)
class TimelineEntry:
    created_at: datetime
    text: str


@dataclass(frozen=True)
class NoteView:
    body: str
    created_at: datetime
    guardian_name: str


@dataclass(frozen=True)
class CaseView:
    """A decrypted case. Fields after ``contact`` are filled for guardians only."""

    id: int
    reference: str
    status: str
    created_at: datetime
    acknowledge_by: date
    feedback_by: date
    next_due: date | None
    anonymity: str
    worker_group: str | None
    version: int
    what_happened: str
    where: str
    when: str
    messages: list[MessageView]
    timeline: list[TimelineEntry]
    outcome: str | None
    feedback_given: bool
    acknowledged: bool = False
    closed_at: datetime | None = None
    name: str = ""  # the identity given (confidential or open), for the reporter too
    contact: str = ""
    speak_up_again: str | None = None
    detriment_reported: bool | None = None
    themes: tuple[str, ...] = ()
    assigned_to_id: int | None = None
    assigned_to_name: str = ""
    notes: list[NoteView] = field(default_factory=list)
    learning: str = ""
    learning_shareable: bool = False
    channel: str = ONLINE
    referred_to: str | None = None
    detriment_after_closure: bool = False
    referral_note: str = ""
    language: str | None = None  # the code it was raised in (languages.KNOWN); None: not recorded

    @property
    def language_label(self) -> str:
        return languages.both_names(self.language) if self.language else ""

    @property
    def may_need_interpreter(self) -> bool:
        return self.language is not None and self.language != languages.ENGLISH

    @property
    def referred_to_label(self) -> str:
        return REFERRALS.get(self.referred_to or "", "")

    @property
    def channel_label(self) -> str:
        return CHANNELS.get(self.channel, self.channel)

    @property
    def status_label(self) -> str:
        return str(workflow.REPORTER_LABELS[self.status])

    @property
    def speak_up_again_label(self) -> str:
        return SPEAK_UP_AGAIN.get(self.speak_up_again or "", "")

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS.get(self.outcome or "", "")

    @property
    def allowed_statuses(self) -> tuple[str, ...]:
        """Moves a guardian can make with the status select (closing has its own form)."""
        return tuple(s for s in workflow.allowed_next(self.status) if s != workflow.CLOSED)

    @property
    def can_close(self) -> bool:
        return workflow.can_move(self.status, workflow.CLOSED)

    @property
    def feedback_requested(self) -> bool:
        return self.status == workflow.CLOSED and not self.feedback_given

    @property
    def lists(self) -> ReturnLists:
        return lists_for(clock.uk_date(self.created_at))


# Each event the person reads of, said whole with the guardian's name and without it (as they chose), so a translation
# can put the name where its language puts it.
_TIMELINE = {
    "reopened": (_l("Reopened by %(name)s – being looked into again"), _l("Reopened – being looked into again")),
    "closed": (_l("Closed by %(name)s"), _l("Closed")),
    "escalated": (  # speakup/domain/deadlines/changes.py
        _l("Moved to stage 2, a full investigation by %(name)s"),
        _l("Moved to stage 2, a full investigation"),
    ),
    "extended": (
        _l("More time needed to respond by %(name)s: see why below"),
        _l("More time needed to respond: see why below"),
    ),
    "new_access_code": (  # speakup/domain/lost_codes.py
        _l("You were given a new access code by %(name)s. The old one no longer works"),
        _l("You were given a new access code. The old one no longer works"),
    ),
}


def _timeline_text(event: CaseEvent) -> str:
    name = event.guardian.name if event.show_guardian_name and event.guardian else None
    if event.kind == "raised":
        return _("Concern raised")
    if event.kind == "shared_with_named":  # speakup/domain/sharing.py
        return _("Shared with the guardian you asked to keep out of it, after two guardians agreed it was needed")
    if event.kind in _TIMELINE:
        with_name, without = _TIMELINE[event.kind]
        return str(with_name) % {"name": name} if name else str(without)
    label = workflow.REPORTER_LABELS.get(event.to_status or "")
    if label is None:
        return _("Updated by %(name)s", name=name) if name else _("Updated")
    # A status the case was moved to: its label (a phrase of its own), then who moved it.
    return _("%(status)s by %(name)s", status=label, name=name) if name else str(label)


def timeline(case: Case) -> list[TimelineEntry]:
    """What the reporter sees happen, in plain words. Assignments are internal and left out."""
    events = db.session.scalars(
        db.select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind != "assigned").order_by(CaseEvent.id)
    )
    return [TimelineEntry(event.created_at, _timeline_text(event)) for event in events]


class CaseRecordAltered(Exception):
    """The case's reference or anonymity is not the one sealed with its concern: changed in the database. Never
    shown as it stands (the page fails, as for any sealed column that does not open); the type alone is logged."""


def open_concern(case: Case, case_key: bytes) -> dict[str, str]:
    """The concern's sealed words, checked against the plain columns that decide what is done with the case."""
    # A case whose key opened is not purged: its concern is there.
    sealed = sealing.open_text(case_key, cast(bytes, case.concern_ct), labels.concern(case.id))
    text: dict[str, str] = json.loads(sealed)
    if text.get("reference", case.reference) != case.reference:  # (concerns sealed before it was have none)
        raise CaseRecordAltered()
    if "anonymity" in text:
        if text["anonymity"] != case.anonymity:
            raise CaseRecordAltered()
    # Sealed before the anonymity was: a name and contact were sealed exactly when it was not anonymous, and a
    # writer can neither make nor move one (its label names the case).
    elif case.anonymity == "anonymous" or case.identity_ct is None:
        if case.anonymity != "anonymous" or case.identity_ct is not None:
            raise CaseRecordAltered()
    else:
        sealing.open_text(case_key, case.identity_ct, labels.identity(case.id))
    return text


def _open_case(case: Case, case_key: bytes, for_guardian: bool) -> CaseView:
    text = open_concern(case, case_key)
    messages = [
        MessageView(
            m.author,
            sealing.open_text(case_key, m.body_ct, labels.message(case.id, m.uid)),
            m.created_at,
        )
        for m in case.messages
    ]
    extra: dict[str, Any] = {}
    # The name and contact given: for the guardian, and for the person who gave them, to check what they said.
    if case.identity_ct:
        extra.update(json.loads(sealing.open_text(case_key, case.identity_ct, labels.identity(case.id))))
    if for_guardian:
        notes = db.session.scalars(db.select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.id))
        extra["notes"] = [
            NoteView(
                sealing.open_text(case_key, n.body_ct, labels.note(case.id, n.uid)),
                n.created_at,
                n.guardian.name if n.guardian else "A former guardian",
            )
            for n in notes
        ]
        if case.referral_ct:
            extra["referral_note"] = sealing.open_text(case_key, case.referral_ct, labels.referral(case.id))
        if case.language_ct:
            spoken = sealing.open_text(case_key, case.language_ct, labels.language(case.id))
            extra["language"] = spoken if spoken in languages.KNOWN else None
        if case.learning_ct:
            extra["learning"] = sealing.open_text(case_key, case.learning_ct, labels.learning(case.id))
        extra.update(
            learning_shareable=case.learning_shareable,
            themes=tuple(t.theme for t in case.themes),
            assigned_to_id=case.assigned_to_id,
            assigned_to_name=case.assigned_to.name if case.assigned_to else "",
            detriment_reported=case.detriment_reported,
            speak_up_again=case.speak_up_again,
            channel=case.channel,
            referred_to=case.referred_to,
            detriment_after_closure=bool(case.detriment_after_closure),
        )
    return CaseView(
        id=case.id,
        reference=case.reference,
        status=case.status,
        created_at=case.created_at,
        acknowledge_by=case.acknowledge_by,
        feedback_by=case.feedback_by,
        next_due=case.next_due,
        anonymity=case.anonymity,
        worker_group=case.worker_group,
        version=case.version,
        what_happened=text["what_happened"],
        where=text["where"],
        when=text["when"],
        messages=messages,
        timeline=timeline(case),
        outcome=case.outcome,
        feedback_given=case.feedback_at is not None,
        acknowledged=case.acknowledged_at is not None,
        closed_at=case.closed_at,
        **extra,
    )


def reporter_view(case: Case, case_key: bytes) -> CaseView:
    return _open_case(case, case_key, for_guardian=False)


def guardian_view(case: Case, case_key: bytes) -> CaseView:
    return _open_case(case, case_key, for_guardian=True)


def mark_viewed(case: Case, guardian_id: int) -> None:
    """The one write a guardian's look at a case makes: audited as viewed, and the time they last read it kept on
    their grant, so the queue stops saying a reply is waiting for them. Committed by audit.record_reading."""
    db.session.execute(
        update(CaseGrant)
        .where(
            CaseGrant.case_id == case.id,
            CaseGrant.recipient == GrantRecipient.GUARDIAN,
            CaseGrant.user_id == guardian_id,
        )
        .values(read_at=clock.minute_now(), read_writes=case.reporter_writes)
    )
    audit.record_reading(audit.Action.CASE_VIEWED, audit.Actor.GUARDIAN, guardian_id, case_id=case.id)


@dataclass(frozen=True)
class NewMessages:
    """The guardian's messages the reporter's page shows them for the first time: how many, and where the first
    of them is in ``CaseView.messages`` (None when there is none)."""

    count: int
    first: int | None


def reporter_sees_messages(case: Case, view: CaseView) -> NewMessages:
    """Which of the guardian's messages are new to the person, and the record that they have now been shown.

    Kept as a count on the case (Case.reporter_seen_guardian_messages), as the reporter's writes are: no time and
    nothing else about the person's reading. Raised, never lowered (two tabs at once), written at the request's
    commit without changing the case's version, so a form open in another tab is not refused for it."""
    guardian_positions = [i for i, message in enumerate(view.messages) if message.author == Author.GUARDIAN]
    new = guardian_positions[case.reporter_seen_guardian_messages :]
    if new:
        shown = len(guardian_positions)
        transactions.at_commit(
            lambda: db.session.execute(
                update(Case)
                .where(Case.id == case.id, Case.reporter_seen_guardian_messages < shown)
                .values(reporter_seen_guardian_messages=shown)
                .execution_options(synchronize_session=False)
            )
        )
    return NewMessages(len(new), new[0] if new else None)
