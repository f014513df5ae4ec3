"""Sharing cases between guardians on the verified roster, audited here like assignment.

A guardian shares one case, or every case they hold, with a colleague on the roster (``share_with``,
``share_all_cases``). Sharing with a guardian the reporter asked to keep out of it is never one guardian's decision
alone: a guardian who needs to (the excluded guardian must answer the concern, say) asks, after a warning; nothing is
shared until a second approved guardian who holds the case confirms. Who it would go to is sealed under the case
key, like the exclusion itself, so the request tells a database reader nothing. The share, the request and its
cancellation are audited without naming the excluded guardian, and the reporter's timeline says that their concern
was shared with the guardian they named.

A request is answered once and lives ``REQUEST_DAYS``: when it was made is sealed with it, and its answer (confirmed
or withdrawn) is in the audit chain, which a database writer cannot rewrite without the pepper. So a request row
put back after it was answered, or made to look new, is never offered or confirmed again (review 25, F1).
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from speakup.crypto import labels, sealing
from speakup.keys import exclusions, grants, roster
from speakup.ops import audit
from speakup.platform import clock, transactions
from speakup.platform.models import AuditEvent, Case, CaseEvent, CaseGrant, GrantRecipient, ShareRequest, User, db
from speakup.platform.translation import gettext as _
from speakup.platform.translation import lazy_gettext as _l

logger = logging.getLogger(__name__)

OVERRIDE_REASON = "reporter's exclusion overridden, confirmed by a second guardian"
SHARED_WITH_NAMED = "shared_with_named"  # the timeline event's kind
REQUEST_DAYS = 14  # a request not confirmed by then is gone: ask again, with the case as it is now


class ShareRefused(Exception):
    """A share, request or confirmation cannot be made as asked; the message says why. ``offer_override`` is set when
    the reporter asked for that guardian to be kept out: the case page then offers to ask a second guardian."""

    def __init__(self, message: str, offer_override: bool = False):
        super().__init__(message)
        self.offer_override = offer_override


EXCLUSIONS_MISSING = _l(
    "This case cannot be shared: its record of which guardians the person asked to keep out is missing, so nobody "
    "can tell who may see it. Nothing was shared. Tell your Freedom to Speak Up lead"
)


def _excluded(case: Case, case_key: bytes) -> set[int]:
    try:
        return exclusions.excluded_ids(case, case_key)
    except exclusions.ExclusionsMissing:
        logger.error("case_exclusions_missing: case %s", case.id)
        raise ShareRefused(str(EXCLUSIONS_MISSING)) from None


def guardians_to_share_with(case: Case) -> list[roster.RosterMember]:
    """Guardians on the verified roster who do not hold the case yet: nobody else can be given its key."""
    holders = db.session.scalars(
        select(CaseGrant.user_id).where(CaseGrant.case_id == case.id, CaseGrant.recipient == GrantRecipient.GUARDIAN)
    )
    members = roster.current_roster().guardians(exclude_ids=tuple(holders))
    return sorted(members, key=lambda member: member.name)


@transactions.action
def share_with(case: Case, case_key: bytes, to: roster.RosterMember, by: User) -> bool:
    """Gives a colleague on the roster the case's key. False when they hold it already; ``ExcludedGuardian``
    (nothing changed) when the reporter asked for them not to see it, which only ``request_override`` can pass;
    ``ShareRefused`` when the case's list of excluded guardians is missing."""
    _excluded(case, case_key)
    if not grants.share_case(case, case_key, to):
        return False
    audit.record(audit.Action.CASE_SHARED, audit.Actor.GUARDIAN, by.id, case_id=case.id, guardian_id=to.id, reason=None)
    return True


@transactions.action
def share_all_cases(me: User, private_key: bytes, to: roster.RosterMember) -> grants.ShareResult:
    """Every case ``me`` holds, shared with a colleague on the roster (a new guardian, say); never an excluded one."""
    result = grants.share_cases(
        grants.guardian_case_ids(me.id), lambda case: grants.guardian_case_key(case, me.id, private_key), to
    )
    audit.record(audit.Action.CASE_SHARED, audit.Actor.GUARDIAN, me.id, guardian_id=to.id, count=result.shared)
    return result


def share_from_case_page(case: Case, case_key: bytes, target_id: int | None, by: User, override_exclusion: bool) -> str:
    """The case page's Share form: shares with the colleague chosen (``target_id``, on the roster), or, with
    ``override_exclusion``, against the reporter's wish, only asks (a second guardian confirms, ``confirm``).
    Returns what the page says was done; ``ShareRefused`` says why nothing was (by the form's field)."""
    user = roster.current_roster().member(target_id) if target_id is not None else None
    if user is None:
        raise ShareRefused(_("Choose a guardian to share this case with"))
    if override_exclusion:
        request_override(case, case_key, user, by)
        return _("Asked to share with %(name)s: a second guardian must confirm it.", name=user.name)
    try:
        shared = share_with(case, case_key, user, by)
    except exclusions.ExcludedGuardian:
        raise ShareRefused(
            _(
                "The person who raised this concern asked for %(name)s not to see it. "
                "If it must go to them, tick the box: a second guardian will need to confirm.",
                name=user.name,
            ),
            offer_override=True,
        ) from None
    if not shared:
        raise ShareRefused(_("%(name)s can already open this case", name=user.name))
    return _("Shared with %(name)s.", name=user.name)


def colleagues(me: User) -> dict[str, str]:
    """The Share all page's choices: every other guardian on the roster, by id, named with their email."""
    members = roster.current_roster().guardians(exclude_ids=(me.id,))
    return {str(m.id): f"{m.name} ({m.email})" for m in sorted(members, key=lambda m: m.name)}


@dataclass(frozen=True)
class SharedAll:
    """What Share all did, for the page: the colleague's name and the counts of ``grants.ShareResult``."""

    name: str
    shared: int
    already_held: int
    excluded: int
    unknown: int


def share_all_with(me: User, private_key: bytes, target: str) -> SharedAll:
    """Share all's form: every case ``me`` holds, shared with the colleague chosen (a key of ``colleagues``)."""
    if target not in colleagues(me):
        raise ShareRefused(_("Choose a guardian to share your cases with"))
    user = roster.current_roster().member(int(target))
    if user is None:  # left the roster since the list was read
        raise ShareRefused(_("Choose a guardian to share your cases with"))
    result = share_all_cases(me, private_key, user)
    return SharedAll(user.name, result.shared, result.already_held, result.excluded, result.unknown)


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


@transactions.action
def request_override(case: Case, case_key: bytes, target: roster.RosterMember, requester: User) -> ShareRequest:
    """Asks to share ``case`` with a guardian the reporter excluded. Shares nothing yet."""
    if target.id not in _excluded(case, case_key):
        raise ShareRefused(_("This guardian was not excluded: share the case the usual way"))
    uid = secrets.token_hex(16)
    request = ShareRequest(
        uid=uid,
        case_id=case.id,
        requested_by_id=requester.id,
        target_ct=sealing.seal_text(
            case_key,
            json.dumps({"target": target.id, "requested_by": requester.id, "at": clock.utcnow().isoformat()}),
            labels.share_request(case.id, uid),
        ),
        created_at=clock.utcnow(),
    )
    db.session.add(request)
    audit.record(audit.Action.SHARE_REQUESTED, audit.Actor.GUARDIAN, requester.id, case_id=case.id, request=uid)
    return request


def _answered(case: Case) -> set[str]:
    """The requests on ``case`` that were confirmed or withdrawn, as the audit chain records them."""
    events = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.case_id == case.id,
            AuditEvent.action.in_((audit.Action.CASE_SHARED, audit.Action.SHARE_REQUEST_CANCELLED)),
        )
    )
    return {str(uid) for event in events if (uid := audit.detail_of(event).get("request"))}


def pending(case: Case, case_key: bytes) -> list[PendingShare]:
    """The case's open requests, their targets opened with the case key, oldest first."""
    verified = roster.current_roster()
    rows = db.session.scalars(db.select(ShareRequest).where(ShareRequest.case_id == case.id).order_by(ShareRequest.id))
    answered, oldest = _answered(case), clock.utcnow() - timedelta(days=REQUEST_DAYS)
    requests = []
    for row in rows:
        sealed = json.loads(sealing.open_text(case_key, row.target_ct, labels.share_request(case.id, row.uid)))
        if isinstance(sealed, dict) and "at" in sealed:
            target_id, requester = sealed["target"], sealed["requested_by"]
            if row.uid in answered or datetime.fromisoformat(sealed["at"]) < oldest:
                continue  # put back after it was answered, or past its life: as if it were not there
        else:  # sealed before the requester and the time were: never confirmed (confirm says to ask again)
            target_id, requester = (sealed["target"] if isinstance(sealed, dict) else sealed), None
        member = verified.member(target_id)
        target_user = db.session.get(User, target_id)
        name = member.name if member else (target_user.name if target_user else "a former guardian")
        requests.append(PendingShare(row.uid, member, name, row.requested_by, row.created_at, requester))
    return requests


def _find(case: Case, case_key: bytes, uid: str) -> PendingShare:
    for request in pending(case, case_key):
        if request.uid == uid:
            return request
    raise ShareRefused(_("That request is no longer open"))


@transactions.action
def confirm(case: Case, case_key: bytes, uid: str, confirmer: User) -> PendingShare:
    """The second guardian agrees: the case key is wrapped for the excluded guardian, and the reporter is told."""
    request = _find(case, case_key, uid)
    if request.sealed_requester is None:
        raise ShareRefused(_("This request cannot be confirmed: ask for the share again"))
    if request.sealed_requester == confirmer.id:
        raise ShareRefused(_("A second guardian must confirm: you asked for this share yourself"))
    if request.target is None:
        raise ShareRefused(
            _("%(name)s is not an approved guardian now: the request cannot go ahead", name=request.target_name)
        )
    if request.target.id == confirmer.id:
        raise ShareRefused(_("You cannot confirm a request to share a case with yourself"))
    _excluded(case, case_key)
    grants.share_case(case, case_key, request.target, override_exclusion=True)
    db.session.execute(db.delete(ShareRequest).where(ShareRequest.uid == uid))
    db.session.add(CaseEvent(case_id=case.id, kind=SHARED_WITH_NAMED, created_at=clock.utcnow()))
    # No guardian id: with the reason beside it, it would name the guardian the concern is about.
    audit.record(
        audit.Action.CASE_SHARED, audit.Actor.GUARDIAN, confirmer.id, case_id=case.id, reason=OVERRIDE_REASON,
        request=uid,
    )  # fmt: skip
    return request


def decide(case: Case, case_key: bytes, uid: str, confirmed: bool, guardian: User) -> str:
    """A request answered on the case page: confirmed (by a second guardian) or cancelled (by anyone holding the
    case). Returns what the page says was done."""
    if confirmed:
        confirm(case, case_key, uid, guardian)
        return _("Shared.")
    cancel(case, case_key, uid, guardian)
    return _("Request cancelled.")


@transactions.action
def cancel(case: Case, case_key: bytes, uid: str, guardian: User) -> None:
    _find(case, case_key, uid)
    db.session.execute(db.delete(ShareRequest).where(ShareRequest.uid == uid))
    audit.record(audit.Action.SHARE_REQUEST_CANCELLED, audit.Actor.GUARDIAN, guardian.id, case_id=case.id, request=uid)
