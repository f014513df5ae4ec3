"""Sharing cases between guardians on the verified roster, audited here like assignment.

A guardian shares one case, or every case they hold, with a colleague on the roster (``share_with``,
``share_all_cases``). Sharing with a guardian the reporter asked to keep out of it is never one guardian's decision
alone: a guardian who needs to (the excluded guardian must answer the concern, say) asks, after a warning; nothing is
shared until a second approved guardian who holds the case confirms. Who it would go to is sealed under the case
key, like the exclusion itself, so the request tells a database reader nothing. The share, the request and its
cancellation are audited without naming the excluded guardian, and the reporter's timeline says that their concern
was shared with the guardian they named.

Transactions: each function here commits its own change.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from speakup.crypto import labels, sealing
from speakup.keys import exclusions, grants, roster
from speakup.ops import audit
from speakup.platform import clock
from speakup.platform.models import Case, CaseEvent, CaseGrant, ShareRequest, User, db

logger = logging.getLogger(__name__)

OVERRIDE_REASON = "reporter's exclusion overridden, confirmed by a second guardian"
SHARED_WITH_NAMED = "shared_with_named"  # the timeline event's kind


class ShareRefused(Exception):
    """A request or confirmation cannot be made as asked; the message says why."""


EXCLUSIONS_MISSING = (
    "This case cannot be shared: its record of which guardians the person asked to keep out is missing, so nobody "
    "can tell who may see it. Nothing was shared. Tell your Freedom to Speak Up lead"
)


def _excluded(case: Case, case_key: bytes) -> set[int]:
    try:
        return exclusions.excluded_ids(case, case_key)
    except exclusions.ExclusionsMissing:
        logger.warning("case_exclusions_missing: case %s", case.id)
        raise ShareRefused(EXCLUSIONS_MISSING) from None


def guardians_to_share_with(case: Case) -> list[roster.RosterMember]:
    """Guardians on the verified roster who do not hold the case yet: nobody else can be given its key."""
    holders = db.session.scalars(
        select(CaseGrant.user_id).where(CaseGrant.case_id == case.id, CaseGrant.recipient == "guardian")
    )
    members = roster.current_roster().guardians(exclude_ids=tuple(holders))
    return sorted(members, key=lambda member: member.name)


def share_with(case: Case, case_key: bytes, to: roster.RosterMember, by: User) -> bool:
    """Gives a colleague on the roster the case's key. False when they hold it already; ``ExcludedGuardian``
    (nothing changed) when the reporter asked for them not to see it, which only ``request_override`` can pass;
    ``ShareRefused`` when the case's list of excluded guardians is missing."""
    _excluded(case, case_key)
    if not grants.share_case(case, case_key, to):
        return False
    audit.record(audit.CASE_SHARED, "guardian", by.id, case_id=case.id, guardian_id=to.id, reason=None)
    db.session.commit()
    return True


def share_all_cases(me: User, private_key: bytes, to: roster.RosterMember) -> grants.ShareResult:
    """Every case ``me`` holds, shared with a colleague on the roster (a new guardian, say); never an excluded one."""
    result = grants.share_cases(
        grants.guardian_case_ids(me.id), lambda case: grants.guardian_case_key(case, me.id, private_key), to
    )
    audit.record(audit.CASE_SHARED, "guardian", me.id, guardian_id=to.id, count=result.shared)
    db.session.commit()
    return result


@dataclass(frozen=True)
class PendingShare:
    uid: str
    target: roster.RosterMember | None  # None when the guardian is no longer on the roster
    target_name: str
    requested_by: User | None
    created_at: object
    # Who asked, as sealed with the request: the one fact the second-guardian rule rests on, so never taken from the
    # plain requested_by_id column, which a database writer could blank. None for a request from before it was sealed.
    sealed_requester: int | None = None


def request_override(case: Case, case_key: bytes, target: roster.RosterMember, requester: User) -> ShareRequest:
    """Asks to share ``case`` with a guardian the reporter excluded. Shares nothing yet."""
    if target.id not in _excluded(case, case_key):
        raise ShareRefused("This guardian was not excluded: share the case the usual way")
    uid = secrets.token_hex(16)
    request = ShareRequest(
        uid=uid,
        case_id=case.id,
        requested_by_id=requester.id,
        target_ct=sealing.seal_text(
            case_key,
            json.dumps({"target": target.id, "requested_by": requester.id}),
            labels.share_request(case.id, uid),
        ),
        created_at=clock.utcnow(),
    )
    db.session.add(request)
    audit.record(audit.SHARE_REQUESTED, "guardian", requester.id, case_id=case.id)
    db.session.commit()
    return request


def pending(case: Case, case_key: bytes) -> list[PendingShare]:
    """The case's open requests, their targets opened with the case key, oldest first."""
    verified = roster.current_roster()
    rows = db.session.scalars(db.select(ShareRequest).where(ShareRequest.case_id == case.id).order_by(ShareRequest.id))
    requests = []
    for row in rows:
        sealed = json.loads(sealing.open_text(case_key, row.target_ct, labels.share_request(case.id, row.uid)))
        if isinstance(sealed, dict):
            target_id, requester = sealed["target"], sealed["requested_by"]
        else:  # sealed before the requester was
            target_id, requester = sealed, None
        member = verified.member(target_id)
        target_user = db.session.get(User, target_id)
        name = member.name if member else (target_user.name if target_user else "a former guardian")
        requests.append(PendingShare(row.uid, member, name, row.requested_by, row.created_at, requester))
    return requests


def _find(case: Case, case_key: bytes, uid: str) -> PendingShare:
    for request in pending(case, case_key):
        if request.uid == uid:
            return request
    raise ShareRefused("That request is no longer open")


def confirm(case: Case, case_key: bytes, uid: str, confirmer: User) -> PendingShare:
    """The second guardian agrees: the case key is wrapped for the excluded guardian, and the reporter is told."""
    request = _find(case, case_key, uid)
    if request.sealed_requester is None:
        raise ShareRefused("This request cannot be confirmed: ask for the share again")
    if request.sealed_requester == confirmer.id:
        raise ShareRefused("A second guardian must confirm: you asked for this share yourself")
    if request.target is None:
        raise ShareRefused(f"{request.target_name} is not an approved guardian now: the request cannot go ahead")
    if request.target.id == confirmer.id:
        raise ShareRefused("You cannot confirm a request to share a case with yourself")
    _excluded(case, case_key)
    grants.share_case(case, case_key, request.target, override_exclusion=True)
    db.session.execute(db.delete(ShareRequest).where(ShareRequest.uid == uid))
    db.session.add(CaseEvent(case_id=case.id, kind=SHARED_WITH_NAMED, created_at=clock.utcnow()))
    # No guardian id: with the reason beside it, it would name the guardian the concern is about.
    audit.record(audit.CASE_SHARED, "guardian", confirmer.id, case_id=case.id, reason=OVERRIDE_REASON)
    db.session.commit()
    return request


def cancel(case: Case, case_key: bytes, uid: str, guardian: User) -> None:
    _find(case, case_key, uid)
    db.session.execute(db.delete(ShareRequest).where(ShareRequest.uid == uid))
    audit.record(audit.SHARE_REQUEST_CANCELLED, "guardian", guardian.id, case_id=case.id)
    db.session.commit()
