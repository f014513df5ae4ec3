"""Case references (SU-XXXXXXXX): finding a case by one, forgiving how it was typed."""

from __future__ import annotations

from sqlalchemy import select

from speakup.crypto import access_codes
from speakup.keys import grants
from speakup.platform.models import CASE_ID_LIMIT, Case, db

CASE_ID_DIGITS = len(str(CASE_ID_LIMIT))


def case_by_reference(reference: str) -> Case | None:
    return db.session.scalar(select(Case).where(Case.reference == reference))


def case_at(address: str) -> Case | None:
    """The case a guardian's page address names: its id, as the pages link it, or (typed or bookmarked before the
    pages stopped naming cases in their addresses) its reference."""
    if address.isdigit() and len(address) <= CASE_ID_DIGITS:
        return db.session.get(Case, int(address))
    return case_by_reference(address)


REFERENCE_CHARS = 8

_REFERENCE_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})


def normalise_reference(typed: str) -> str | None:
    """ "su-abcd 1234", "ABCD1234" and "SU ABCD-1234" all mean SU-ABCD1234; None when it cannot be a reference."""
    cleaned = "".join(typed.split()).replace("-", "").upper()
    if len(cleaned) == REFERENCE_CHARS + 2 and cleaned.startswith("SU"):
        cleaned = cleaned[2:]
    cleaned = cleaned.translate(_REFERENCE_CONFUSABLE)
    if len(cleaned) != REFERENCE_CHARS or any(char not in access_codes.ALPHABET for char in cleaned):
        return None
    return "SU-" + cleaned


# Longer than any reference a person could mean, however spaced: not looked at further.
_MAX_TYPED_REFERENCE_CHARS = 40


def looks_like_reference(typed: str) -> bool:
    """Whether ``typed`` is a case reference (SU-ABCD1234, however spaced or cased) rather than an access code.
    Known from the text alone, and never confused with a code: it starts with SU, and no access code has a U in it
    (Crockford's alphabet leaves it out). Nothing is looked up, so saying so reveals nothing about which cases exist."""
    if len(typed) > _MAX_TYPED_REFERENCE_CHARS:
        return False
    return "".join(typed.split()).upper().startswith("SU") and normalise_reference(typed) is not None


def case_openable_by(typed: str, user_id: int) -> Case | None:
    """The case ``typed`` names by its reference, if this guardian holds its key; None for a missing case and for
    one they cannot open alike."""
    reference = normalise_reference(typed)
    case = case_by_reference(reference) if reference else None
    if case is None or not grants.holds_grant(case.id, user_id):
        return None
    return case


def case_opened_at(address: str, guardian_id: int, private_key: bytes) -> tuple[Case, bytes] | None:
    """The case a guardian's page address names (``case_at``) and its key, opened with the guardian's private key;
    None alike for an address that names no case and for a case they hold no key for."""
    case = case_at(address)
    if case is None:
        return None
    try:
        return case, grants.guardian_case_key(case, guardian_id, private_key)
    except grants.NoGrant:
        return None
