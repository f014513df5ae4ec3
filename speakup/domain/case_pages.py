"""What each case page shows, gathered by one call: the guardian's (``guardian_case_page``) and the reporter's
(``reporter_case_page``). The pages' forms, and what the browser was told a moment ago, stay with the views."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from speakup.domain import (
    characteristics,
    checkins,
    deadlines,
    files,
    handling,
    lost_codes,
    reading,
    sharing,
    stage_two,
    workflow,
)
from speakup.domain.categories import REFERRALS, SPEAK_UP_AGAIN
from speakup.domain.deadlines import changes as deadline_changes
from speakup.domain.deadlines.changes import ExtensionView
from speakup.domain.files import AttachmentView
from speakup.ops import audit
from speakup.platform import clock
from speakup.platform.config import settings
from speakup.platform.models import AuditEvent, Case
from speakup.platform.translation import gettext as _
from speakup.platform.translation import lazy_gettext as _l

A = audit.Action
# The audit trail's entries as a guardian reads them; the trail stores the action's name, which older rows may hold
# for an action no longer listed (shown as its name).
TRAIL_ACTIONS: dict[str, object] = {
    A.CASE_RAISED: _l("case raised"),
    A.CASE_RECORDED: _l("case recorded"),
    A.CASE_VIEWED: _l("case viewed"),
    A.STATUS_CHANGED: _l("status changed"),
    A.CASE_ASSIGNED: _l("case assigned"),
    A.CASE_CLOSED: _l("case closed"),
    A.CASE_REOPENED: _l("case reopened"),
    A.MESSAGE_SENT: _l("message sent"),
    A.NOTE_ADDED: _l("note added"),
    A.ATTACHMENT_ADDED: _l("file added"),
    A.REFERRAL_RECORDED: _l("referral recorded"),
    A.DETAILS_RECORDED: _l("details recorded"),
    A.FEEDBACK_GIVEN: _l("feedback given"),
    A.CHECK_IN_GIVEN: _l("check-in answered"),
    A.CASE_ESCALATED: _l("moved to stage 2"),
    A.DEADLINE_EXTENDED: _l("deadline extended"),
    A.CASE_SHARED: _l("case shared"),
    A.SHARE_REQUESTED: _l("share requested"),
    A.SHARE_REQUEST_CANCELLED: _l("share request withdrawn"),
    A.ACCESS_CODE_REPLACED: _l("new access code given"),
    A.EXPORT: _l("downloaded"),
    A.CASES_PURGED: _l("case deleted"),
}


@dataclass(frozen=True)
class TrailEntry:
    at: datetime
    action: str
    actor: str


def trail_entry(event: AuditEvent) -> TrailEntry:
    action = str(TRAIL_ACTIONS.get(event.action, event.action.replace("_", " ")))
    actors: dict[str, str] = {
        audit.Actor.GUARDIAN: _("guardian"),
        audit.Actor.ADMIN: _("administrator"),
        audit.Actor.REPORTER: _("the person who raised it"),
        audit.Actor.SYSTEM: _("the service"),
    }
    actor = actors.get(event.actor_type, event.actor_type)
    return TrailEntry(event.created_at, action, f"{actor} #{event.actor_id}" if event.actor_id else actor)


@dataclass(frozen=True)
class GuardianCasePage:
    """A case as its guardian's page shows it: the case opened, who it may be assigned or shared to (select
    choices: id as text to name), open share requests, its audit trail, files, stage and extended deadlines."""

    case: reading.CaseView
    assignees: dict[str, str]
    share_choices: dict[str, str]
    share_requests: list[sharing.PendingShare]
    trail: list[TrailEntry]
    files: list[AttachmentView]
    stage: int | None  # under the Scottish rules; None under the others
    can_escalate: bool
    extensions: list[ExtensionView]
    labels: dict[str, str]
    outcomes: dict[str, str]
    response_parts: dict[str, str]  # what a stage 2 response in Scotland must give (domain/stage_two.py); else none
    deadline_framework: str  # what the deadlines follow, as a sentence names it (deadlines.RULE_SETS)
    referral_choices: dict[str, str]
    can_give_new_code: bool  # the person can be given a new access code (not anonymous: domain/lost_codes.py)


def guardian_case_page(case: Case, case_key: bytes, guardian_id: int) -> GuardianCasePage:
    """The guardian's case page, and the record that this guardian viewed the case (``reading.mark_viewed``)."""
    view = reading.guardian_view(case, case_key)
    reading.mark_viewed(case, guardian_id)
    return GuardianCasePage(
        case=view,
        assignees={str(guardian.id): guardian.name for guardian in handling.guardians_of(case)},
        share_choices={str(m.id): f"{m.name} ({m.email})" for m in sharing.guardians_to_share_with(case)},
        share_requests=sharing.pending(case, case_key),
        trail=[trail_entry(event) for event in audit.case_trail(case.id)],
        files=files.describe(case, case_key),
        stage=deadlines.stage_of(case.stage, settings().deadline_config),
        can_escalate=deadline_changes.can_escalate(case),
        extensions=deadline_changes.extensions_of(case, case_key),
        labels=workflow.GUARDIAN_LABELS,
        outcomes=stage_two.outcome_choices(case.stage),
        response_parts=stage_two.PARTS if stage_two.applies(case.stage) else {},
        deadline_framework=deadline_framework(),
        referral_choices=REFERRALS,
        can_give_new_code=lost_codes.can_give_new_code(case),
    )


@dataclass(frozen=True)
class ReporterCasePage:
    """A case as the person who raised it sees it: the case opened, the questions after closing (one form),
    files, extended deadlines, the voluntary questions about them while they have not answered them, and which of
    the guardian's messages are new to them."""

    case: reading.CaseView
    after_closing: checkins.AfterClosing  # the questions once the case is closed, in one form
    files: list[AttachmentView]
    extensions: list[ExtensionView]
    about_asked: bool
    questions: tuple[characteristics.Question, ...]
    speak_up_again: dict[str, str]
    how_answers_are_kept: str
    new_messages: reading.NewMessages  # the guardian's messages shown to the person for the first time
    signposting: stage_two.Signposting | None  # where to go next after a Scottish stage 2 response, and until when
    deadline_framework: str


def reporter_case_page(case: Case, case_key: bytes) -> ReporterCasePage:
    """The reporter's case page, and the record of how many of the guardian's messages it has shown them."""
    view = reading.reporter_view(case, case_key)
    return ReporterCasePage(
        case=view,
        new_messages=reading.reporter_sees_messages(case, view),
        after_closing=checkins.after_closing(case, clock.uk_today()),
        files=files.describe(case, case_key),
        extensions=deadline_changes.extensions_of(case, case_key),
        about_asked=not characteristics.answered(case),
        questions=characteristics.questions_for(clock.uk_today()),
        speak_up_again=SPEAK_UP_AGAIN,
        how_answers_are_kept=characteristics.HOW_ANSWERS_ARE_KEPT,
        signposting=stage_two.signposting(case),
        deadline_framework=deadline_framework(),
    )


def deadline_framework() -> str:
    """What the organisation's deadlines follow, as the pages name it: "the Speaking up Safely framework for NHS
    Wales"."""
    return str(deadlines.RULE_SETS[settings().deadline_rules].framework)
