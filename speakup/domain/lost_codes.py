"""A person who lost their access code: a guardian who knows who they are gives them a new one.

Only for a confidential or open case (as sealed with the concern, not as the plain column says): the guardian can
check the person asking is the one who raised it. An anonymous case's guardian cannot, so whoever asked would be
handed the case; its reporter raises a new concern instead. The new code is wrapped for the case key like the first
(keys/grants.py); the old one opens nothing from that moment, and every browser following the case up with it is
signed out. The audit chain names the case's latest code, so the old grant put back in the database does not make
the old code work again. The code is shown once to the guardian, on a slip to hand over, sealed under a token only
their session holds (domain/submissions.py), as a recorded concern's is; the person's timeline says a new code was
given, and the audit trail records who gave it.
"""

from __future__ import annotations

from speakup.crypto import access_codes
from speakup.domain import reading, submissions
from speakup.domain.handling import changes_case
from speakup.keys import grants, sessions
from speakup.ops import audit
from speakup.platform import clock
from speakup.platform.config import settings
from speakup.platform.models import Case, CaseEvent, User, db

NEW_ACCESS_CODE = "new_access_code"  # the timeline event's kind


class NewCodeRefused(Exception):
    """A new access code cannot be given for this case; the message says why, in the guardian's words."""


def can_give_new_code(case: Case) -> bool:
    return case.anonymity != "anonymous" and case.concern_ct is not None


@changes_case
def give_new_access_code(case: Case, case_key: bytes, guardian: User) -> str:
    """A new access code for the case's reporter in place of the old; returns the token its slip is shown with."""
    if case.concern_ct is None:
        raise NewCodeRefused("This case was deleted after its retention period: there is nothing to follow up")
    if case.anonymity == "anonymous":
        raise NewCodeRefused(
            "This concern was raised anonymously, so nobody can check that the person asking raised it: they can "
            "raise it again, and give the new case's reference"
        )
    reading.open_concern(case, case_key)  # the anonymity above is the one sealed with the concern
    code = access_codes.new_access_code()
    pepper = settings().token_pepper
    grants.rewrap_for_new_access_code(case, case_key, access_codes.normalise_access_code(code), pepper)
    sessions.end_reporter_sessions_of(case.id)
    now = clock.utcnow()
    case.updated_at = now  # and its version: a page open from before this moment is stale
    db.session.add(CaseEvent(case_id=case.id, kind=NEW_ACCESS_CODE, guardian_id=guardian.id, created_at=now))
    audit.record(
        audit.Action.ACCESS_CODE_REPLACED,
        audit.Actor.GUARDIAN,
        guardian.id,
        case_id=case.id,
        code_generation=grants.code_generation_of(case, pepper),
    )
    sent = submissions.from_form(submissions.new_form_token())
    answer = submissions.Answer(case.reference, code, case.status, case.acknowledge_by)
    db.session.add(submissions.row_for(sent, answer, clock.minute_now()))
    return sent.token
