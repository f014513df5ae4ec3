"""Putting a guardian on the roster: an endorsement signed by an approved guardian or the organisation."""

from __future__ import annotations

import json
from datetime import datetime

from flask import current_app

from speakup.crypto import sealing, signing
from speakup.keys import account_keys, recovery
from speakup.keys.roster import ORGANISATION, STATEMENT_CONTEXT, Roster, _subject, current_roster, safety_code_of
from speakup.ops import audit
from speakup.platform.models import Endorsement, User, db, utcnow


class ApprovalRefused(Exception):
    """An approval cannot be made as asked; ``message`` says why, in words for the person approving."""

    def __init__(self, message: str, field: str = "safety_code"):
        super().__init__(message)
        self.field = field
        self.message = message


def _statement(user: User, endorser: int | str, signer_public: bytes, at: datetime) -> bytes:
    body = {
        "protocol": sealing.PROTOCOL,
        "kind": STATEMENT_CONTEXT,
        **_subject(user),
        "endorsed_at": at.isoformat(timespec="seconds") + "Z",
        "endorser": endorser,
        "endorser_key": signing.roster_fingerprint(signer_public),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _endorse(user: User, signing_key: bytes, endorser_id: int | None, parent_id: int | None) -> Endorsement:
    now = utcnow()
    signer_public = signing.signing_public_key_of(signing_key)
    statement = _statement(user, endorser_id if endorser_id is not None else ORGANISATION, signer_public, now)
    row = Endorsement(
        user_id=user.id,
        endorser_id=endorser_id,
        parent_id=parent_id,
        statement=statement,
        signature=signing.sign(signing_key, STATEMENT_CONTEXT, statement),
        created_at=now,
    )
    db.session.add(row)
    db.session.flush()
    user.endorsement_id = row.id
    return row


def _check_approvable(user: User, roster: Roster) -> None:
    if user.role != "guardian":
        raise ApprovalRefused(f"{user.name} is not a guardian: administrators need no approval")
    if not user.is_active:
        raise ApprovalRefused(f"{user.name}'s account is disabled")
    if not user.is_enrolled or user.signing_public_key is None:
        raise ApprovalRefused(f"{user.name} has not finished setting up their account yet")
    member = roster.member(user.id)
    if member is not None and member.signing_public_key is not None:
        raise ApprovalRefused(f"{user.name} is already approved")


def approve_by_guardian(user: User, approver: User, approver_keys: account_keys.AccountKeys, typed_code: str) -> None:
    """An approved guardian vouches for a pending one, having compared the safety code the new guardian saw at
    the end of enrolment. A code that does not match approves nothing."""
    roster = current_roster()
    if user.id == approver.id:
        raise ApprovalRefused("You cannot approve yourself: another guardian must check your safety code")
    me = roster.member(approver.id)
    signing_key = approver_keys.signing_key
    if me is None or me.signing_public_key is None or signing_key is None:
        raise ApprovalRefused(
            "You cannot approve guardians until your own approval covers your signing key: "
            "ask another guardian to approve you again"
        )
    if signing.signing_public_key_of(signing_key) != me.signing_public_key:
        raise ApprovalRefused("Your signing key is not the one your approval certified: sign out and in again")
    _check_approvable(user, roster)
    if not typed_code.strip():
        raise ApprovalRefused(f"Enter the safety code {user.name} was shown when they set up their account")
    if not signing.same_safety_code(typed_code, safety_code_of(user)):
        raise ApprovalRefused(
            f"That safety code does not match {user.name}'s keys. Nothing was approved: check the code with "
            f"{user.name} again, in person or by phone"
        )
    _endorse(user, signing_key, approver.id, me.endorsement_id)
    audit.record(audit.GUARDIAN_APPROVED, "guardian", approver.id, email=user.email, by="guardian")


def approve_with_organisation_key(user: User, secrets: recovery.OrganisationSecrets, typed_code: str | None) -> None:
    """The offline organisation key vouches for a guardian: the first one, or when no approved guardian is left.

    The key file itself is the authority here (``recovery.read_recovery_file`` checked it is this installation's);
    when SPEAKUP_ROSTER_ROOT is set it must pin this key too, so a file for a replaced key signs nothing."""
    if secrets.signing_key is None:
        raise ApprovalRefused("That recovery key file has no organisation signing key: run `speakup roster upgrade`")
    pinned = current_app.config.get("ROSTER_ROOT")
    signer = signing.roster_fingerprint(signing.signing_public_key_of(secrets.signing_key))
    if pinned and signing.normalise_fingerprint(str(pinned)) != signing.normalise_fingerprint(signer):
        raise ApprovalRefused("That organisation key is not the one SPEAKUP_ROSTER_ROOT pins; nothing was approved")
    _check_approvable(user, current_roster())
    if typed_code is not None and not signing.same_safety_code(typed_code, safety_code_of(user)):
        raise ApprovalRefused(f"That safety code does not match {user.email}'s keys; nothing was approved")
    _endorse(user, secrets.signing_key, None, None)
    audit.record(audit.GUARDIAN_APPROVED, "system", email=user.email, by=ORGANISATION)


def carry_over_approval(user: User, signing_key: bytes) -> None:
    """Upgrading an installation from before signed rosters: the organisation key endorses a guardian the operator
    confirmed, for the HPKE key they already have (they have no signing key until their next sign-in, so they
    receive concerns but approve nobody until approved again)."""
    _endorse(user, signing_key, None, None)
    audit.record(audit.GUARDIAN_APPROVED, "system", email=user.email, by=ORGANISATION)
