"""Putting a guardian on the roster: an approval in the roster log, signed by an approved guardian or the
organisation key, of the keys the guardian's safety code was read from."""

from __future__ import annotations

from speakup.crypto import signing
from speakup.keys import account_keys, recovery, roster_log
from speakup.keys.roster import Roster, current_roster, safety_code_of, trusted_root_key
from speakup.ops import audit
from speakup.platform.models import Role, User


class ApprovalRefused(Exception):
    """An approval cannot be made as asked; ``message`` says why, in words for the person approving."""

    def __init__(self, message: str, field: str = "safety_code"):
        super().__init__(message)
        self.field = field
        self.message = message


def _check_approvable(user: User, verified: Roster) -> None:
    if verified.problem:
        raise ApprovalRefused(
            "Nobody can be approved while the roster has an alarm: tell your Freedom to Speak Up lead, who must "
            "check it with the organisation key (speakup roster accept)"
        )
    if user.role != Role.GUARDIAN:
        raise ApprovalRefused(f"{user.name} is not a guardian: administrators need no approval")
    if not user.is_active:
        raise ApprovalRefused(f"{user.name}'s account is disabled")
    if user.id in verified.mismatched:
        raise ApprovalRefused(
            f"The keys stored for {user.name} were changed since they set up their account, so they cannot be "
            "approved: an administrator must reset their account first"
        )
    if not user.is_enrolled or user.signing_public_key is None:
        raise ApprovalRefused(f"{user.name} has not finished setting up their account yet")
    if verified.holds_retired_keys(user):
        raise ApprovalRefused(
            f"The keys stored for {user.name} are ones their last reset retired, so they cannot be approved: an "
            "administrator must reset their account again, and tell your Freedom to Speak Up lead"
        )
    member = verified.member(user.id)
    if member is not None and member.signing_public_key is not None:
        raise ApprovalRefused(f"{user.name} is already approved")


def _check_code(user: User, typed_code: str) -> None:
    """The code the person read out must be the code of the keys stored for them, which the approval signs: a key
    swapped in the database since they enrolled gives another code, and nothing is approved."""
    if not typed_code.strip():
        raise ApprovalRefused(f"Enter the safety code {user.name} was shown when they set up their account")
    if not signing.same_safety_code(typed_code, safety_code_of(user) or ""):
        raise ApprovalRefused(
            f"That safety code does not match {user.name}'s keys. Nothing was approved: check the code with "
            f"{user.name} again, in person or by phone"
        )


def approve_by_guardian(user: User, approver: User, approver_keys: account_keys.AccountKeys, typed_code: str) -> None:
    """An approved guardian vouches for a pending one, having compared the safety code the new guardian reads from
    their own session. The caller commits."""
    verified = current_roster()
    if user.id == approver.id:
        raise ApprovalRefused("You cannot approve yourself: another guardian must check your safety code")
    me = verified.member(approver.id)
    signing_key = approver_keys.signing_key
    if me is None or me.signing_public_key is None or signing_key is None:
        raise ApprovalRefused(
            "You cannot approve guardians until your own approval covers your signing key: "
            "ask another guardian to approve you again"
        )
    if signing.signing_public_key_of(signing_key) != me.signing_public_key:
        raise ApprovalRefused("Your signing key is not the one your approval certified: sign out and in again")
    _check_approvable(user, verified)
    waiting = verified.approvals_of(user.id)
    if waiting is not None and approver.id in waiting.approvers:
        raise ApprovalRefused(f"You have already approved {user.name}: another guardian must approve them too")
    _check_code(user, typed_code)
    roster_log.approve(user, approver.id, signing_key)
    audit.record(audit.Action.GUARDIAN_APPROVED, audit.Actor.GUARDIAN, approver.id, email=user.email, by=Role.GUARDIAN)


def approve_with_organisation_key(user: User, secrets: recovery.OrganisationSecrets, typed_code: str) -> None:
    """The offline organisation key vouches for a guardian: the first one, or when no approved guardian is left.

    The key file itself is the authority here (``recovery.read_recovery_file`` checked it is this installation's);
    it must also be the organisation key in force (the pinned one, or the key its hand-overs lead to), so a file
    for a replaced or retired key signs nothing. The safety
    code the person read out is always required. The caller commits."""
    if secrets.signing_key is None:
        raise ApprovalRefused("That recovery key file has no organisation signing key: run `speakup roster upgrade`")
    in_force = trusted_root_key()
    if in_force is not None and in_force != signing.signing_public_key_of(secrets.signing_key):
        raise ApprovalRefused("That organisation key is not the one in force for the roster; nothing was approved")
    _check_approvable(user, current_roster())
    _check_code(user, typed_code)
    roster_log.approve(user, roster_log.ORGANISATION, secrets.signing_key)
    audit.record(audit.Action.GUARDIAN_APPROVED, audit.Actor.SYSTEM, email=user.email, by=roster_log.ORGANISATION)
