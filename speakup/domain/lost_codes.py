"""A person who lost their access code: a guardian who knows who they are gives them a new one.

Only for a confidential or open case (as sealed with the concern, not as the plain column says): the guardian can
check the person asking is the one who raised it. An anonymous case's guardian cannot, so whoever asked would be
handed the case; its reporter raises a new concern instead. The new code is wrapped for the case key like the first
(keys/grants.py); the old one opens nothing from that moment, and every browser following the case up with it is
signed out. The guardian signs the new code (by a keyed hash) into the roster log, anchored outside the database, so
neither the old grant put back nor the entry removed makes the old code work again (keys/grants.py). The code is
shown once to the guardian, on a slip to hand over, sealed under a token only their session holds
(domain/submissions.py), as a recorded concern's is; the person's timeline says a new code was given, and the audit
trail records who gave it.
"""

from __future__ import annotations

from speakup.crypto import access_codes, signing
from speakup.domain import reading, submissions
from speakup.domain.handling import changes_case
from speakup.keys import grants, roster, roster_log, sessions
from speakup.keys.account_keys import AccountKeys
from speakup.ops import audit
from speakup.platform import clock
from speakup.platform.config import settings
from speakup.platform.models import Case, CaseEvent, User, db
from speakup.platform.translation import gettext as _
from speakup.platform.translation import lazy_gettext as _l

NEW_ACCESS_CODE = "new_access_code"  # the timeline event's kind


NOT_ON_THE_ROSTER = _l(
    "A new access code is signed with your guardian keys, and yours are not approved on the roster yet: ask another "
    "guardian to give it"
)


class NewCodeRefused(Exception):
    """A new access code cannot be given for this case; the message says why, in the guardian's words."""


def can_give_new_code(case: Case) -> bool:
    return case.anonymity != "anonymous" and case.concern_ct is not None


@changes_case
def give_new_access_code(case: Case, case_key: bytes, guardian: User, keys: AccountKeys) -> str:
    """A new access code for the case's reporter in place of the old; returns the token its slip is shown with. The
    guardian signs it into the roster log with the signing key their session holds (``keys``)."""
    if case.concern_ct is None:
        raise NewCodeRefused(_("This case was deleted after its retention period: there is nothing to follow up"))
    if case.anonymity == "anonymous":
        raise NewCodeRefused(
            _(
                "This concern was raised anonymously, so nobody can check that the person asking raised it: they can "
                "raise it again, and give the new case's reference"
            )
        )
    reading.open_concern(case, case_key)  # the anonymity above is the one sealed with the concern
    member = roster.current_roster().member(guardian.id)
    if member is None or keys.signing_key is None or member.signing_public_key is None:
        raise NewCodeRefused(str(NOT_ON_THE_ROSTER))
    if signing.signing_public_key_of(keys.signing_key) != member.signing_public_key:
        raise NewCodeRefused(str(NOT_ON_THE_ROSTER))
    code = access_codes.new_access_code()
    pepper = settings().token_pepper
    grants.rewrap_for_new_access_code(case, case_key, access_codes.normalise_access_code(code), pepper)
    # Named in the anchored log, signed: putting back the old grant, or removing this entry, cannot bring the old
    # code back (keys/grants.py). Anchored as soon as it is committed (keys/written.py).
    roster_log.code_given(case.id, grants.code_generation_of(case, pepper), guardian.id, keys.signing_key)
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
