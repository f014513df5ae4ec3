"""The guardians' roster as the pages see it: who is on it, the safety code of the keys a person holds, the Team
page, and what an approval did, in words."""

from __future__ import annotations

from dataclasses import dataclass

from speakup.domain import staff
from speakup.keys import roster
from speakup.keys.account_keys import AccountKeys
from speakup.keys.approvals import ApprovalRefused as ApprovalRefused  # what staff.approve_guardian refuses with
from speakup.platform.models import User
from speakup.platform.translation import gettext as _
from speakup.platform.translation import ngettext


def on_roster(user_id: int) -> bool:
    """Whether this guardian is on the verified roster: approved, with an approval that still verifies."""
    return roster.current_roster().member(user_id) is not None


def safety_code_held(keys: AccountKeys) -> str | None:
    """The safety code of the keys this person holds (unlocked in their session), never of the stored row."""
    return roster.safety_code_held(keys.private_key, keys.signing_key)


@dataclass(frozen=True)
class TeamPage:
    """Everything the Team page shows: every staff account's state, whether the signed-in guardian is approved and
    can approve others (an approval is signed with their signing key), and their own safety code."""

    staff: list[staff.StaffState]
    me_approved: bool
    me_can_approve: bool
    my_safety_code: str | None


def team_page(me: User, keys: AccountKeys) -> TeamPage:
    member = roster.current_roster().member(me.id)
    return TeamPage(
        staff=staff.staff_states(),
        me_approved=member is not None,
        me_can_approve=member is not None and member.signing_public_key is not None,
        my_safety_code=safety_code_held(keys),
    )


def what_the_approval_did(user: User) -> str:
    """After an approval of ``user``: whether they are on the roster now, or how many approvals they still need."""
    verified = roster.current_roster()
    if verified.member(user.id) is not None:
        return _(
            "%(name)s is approved. New concerns will reach them; share older cases with them if they need them.",
            name=user.name,
        )
    waiting = verified.approvals_of(user.id)
    can_approve = [m for m in verified.guardians(exclude_ids=(user.id,)) if m.signing_public_key is not None]
    if waiting is None:
        return _(
            "Your approval of %(name)s is recorded (an approval). Another guardian must also check their safety code "
            "and approve them.",
            name=user.name,
        )
    if len(can_approve) < waiting.need:
        return ngettext(
            "Your approval of %(name)s is recorded (%(have)s of %(num)d approval). Fewer guardians are approved now "
            "than there have been, so your Freedom to Speak Up lead must approve them with the organisation key.",
            "Your approval of %(name)s is recorded (%(have)s of %(num)d approvals). Fewer guardians are approved now "
            "than there have been, so your Freedom to Speak Up lead must approve them with the organisation key.",
            waiting.need,
            name=user.name,
            have=waiting.have,
        )
    return ngettext(
        "Your approval of %(name)s is recorded (%(have)s of %(num)d approval). Another guardian must also check their "
        "safety code and approve them.",
        "Your approval of %(name)s is recorded (%(have)s of %(num)d approvals). Another guardian must also check their "
        "safety code and approve them.",
        waiting.need,
        name=user.name,
        have=waiting.have,
    )
