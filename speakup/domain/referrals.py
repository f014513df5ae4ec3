"""Referrals: when a guardian passes a case to the people who can act on it, who it went to (a coded value the
board report counts) and a note on it (sealed under the case key, for guardians only)."""

from __future__ import annotations

from speakup.crypto import labels, sealing
from speakup.domain import workflow
from speakup.domain.categories import REFERRALS
from speakup.domain.handling import InvalidTransition, changes_case, check_version
from speakup.ops import audit
from speakup.platform import clock
from speakup.platform.config import settings
from speakup.platform.inputs import InvalidInput, clean_text
from speakup.platform.models import Case, User
from speakup.platform.translation import gettext as _


@changes_case
def record_referral(
    case: Case, case_key: bytes, guardian: User, referred_to: object, note: object, expected_version: int | None
) -> None:
    """Who a referred case went to, and the guardian's note. Only for a case that is referred now."""
    check_version(case, expected_version)
    if case.status != workflow.REFERRED:
        raise InvalidTransition(_("Move the case to Referred first, then record who it went to"))
    errors = {}
    if not isinstance(referred_to, str) or referred_to not in REFERRALS:
        errors["referred_to"] = _("Choose who the case was referred to")
    text = clean_text(note)
    limit = settings().max_concern_chars
    if len(text) > limit:
        errors["referral_note"] = _("The note must be %(limit)s characters or fewer", limit=format(limit, ","))
    if errors:
        raise InvalidInput(errors)
    case.referred_to = str(referred_to)
    case.referral_ct = sealing.seal_text(case_key, text, labels.referral(case.id)) if text else None
    case.updated_at = clock.utcnow()
    audit.record(
        audit.Action.REFERRAL_RECORDED, audit.Actor.GUARDIAN, guardian.id, case_id=case.id, referred_to=case.referred_to
    )
