"""The guardians' roster as the pages see it: who is on it, the safety code of the keys a person holds, the Team
page, and what an approval did, in words."""

from __future__ import annotations

from dataclasses import dataclass

from speakup.domain import staff
from speakup.keys import roster
from speakup.keys.account_keys import AccountKeys
from speakup.keys.approvals import ApprovalRefused as ApprovalRefused  # what staff.approve_guardian refuses with
from speakup.platform.models import User


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
        return f"{user.name} is approved. New concerns will reach them; share older cases with them if they need them."
    waiting = verified.approvals_of(user.id)
    count = f"{waiting.have} of {waiting.need} approvals" if waiting else "an approval"
    can_approve = [m for m in verified.guardians(exclude_ids=(user.id,)) if m.signing_public_key is not None]
    if waiting is not None and len(can_approve) < waiting.need:
        return (
            f"Your approval of {user.name} is recorded ({count}). Fewer guardians are approved now than there have "
            "been, so your Freedom to Speak Up lead must approve them with the organisation key."
        )
    return (
        f"Your approval of {user.name} is recorded ({count}). Another guardian must also check their safety code "
        "and approve them."
    )
