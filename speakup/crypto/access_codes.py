"""Reporters' access codes: Crockford base32 with a check character, the lookup id and the key they open."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from speakup.crypto.sealing import KEY_BYTES, PROTOCOL


class InvalidAccessCode(Exception):
    """An access code is malformed or its check character does not match."""


class EmptyAccessCode(InvalidAccessCode):
    """Nothing was typed but spaces and dashes. A subclass, so every caller that refuses a malformed code
    refuses this too; the follow-up page tells it apart only to say "Enter your access code"."""


# Crockford's base 32: no I, L, O or U, so nothing is mistaken for 1, 0 or V.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})

CODE_DATA_CHARS = 23  # 23 x 5 = 115 bits of entropy

CODE_GROUP = 4


def _check_character(data: str) -> str:
    """Luhn mod 32: catches every single-character typo and most swaps of neighbours."""
    n = len(ALPHABET)
    factor, total = 2, 0
    for char in reversed(data):
        addend = factor * ALPHABET.index(char)
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return ALPHABET[(n - total % n) % n]


def new_access_code() -> str:
    data = "".join(secrets.choice(ALPHABET) for _ in range(CODE_DATA_CHARS))
    return format_access_code(data + _check_character(data))


def format_access_code(normalised: str) -> str:
    return "-".join(normalised[i : i + CODE_GROUP] for i in range(0, len(normalised), CODE_GROUP))


# Longer than any code a person could mean, however spaced: refused before any Unicode work is done on it.
_MAX_TYPED_CHARS = 200

# The minus sign is not a dash to Unicode (it is a maths symbol) but keyboards and word processors type it as one.
_MINUS_SIGN = "\u2212"


def _is_separator(char: str) -> bool:
    """What people type or paste between the groups: any Unicode space (non-breaking, thin, ideographic...), any
    dash (hyphen, en dash, em dash: category Pd), the minus sign, and invisible format characters (soft hyphen,
    zero-width space, byte order mark, direction marks: category Cf) that copying from a document or an email
    carries along. None of them is in the alphabet, so dropping them can never change which code was meant."""
    return char.isspace() or char == _MINUS_SIGN or unicodedata.category(char) in ("Pd", "Cf")


def normalise_access_code(code: str) -> str:
    """Upper-cases, drops separators, maps look-alikes, and verifies the check character.

    NFKC first, so full-width letters and digits (typed with some input methods) read as the plain ones.
    Raises EmptyAccessCode when nothing but separators was given, InvalidAccessCode when the code is malformed
    or its check character does not match (a typing mistake, found with no database and no secret).
    """
    if len(code) > _MAX_TYPED_CHARS:
        raise InvalidAccessCode("wrong length or characters")
    folded = unicodedata.normalize("NFKC", code)
    cleaned = "".join(c for c in folded if not _is_separator(c)).upper().translate(_CONFUSABLE)
    if not cleaned:
        raise EmptyAccessCode("no access code given")
    if len(cleaned) != CODE_DATA_CHARS + 1 or any(c not in ALPHABET for c in cleaned):
        raise InvalidAccessCode("wrong length or characters")
    if _check_character(cleaned[:-1]) != cleaned[-1]:
        raise InvalidAccessCode("check character does not match")
    return cleaned


def access_code_lookup_id(pepper: bytes, normalised_code: str) -> str:
    """The only thing stored that is derived from the code; useless without the server pepper."""
    return hmac.new(pepper, b"lookup|" + normalised_code.encode(), hashlib.sha256).hexdigest()


def code_generation(pepper: bytes, lookup_id: str) -> str:
    """Names one access code of a case in the audit chain: neither the code nor its lookup id (so an old code's row,
    put back, is not found by it), and useless without the server pepper."""
    return hmac.new(pepper, b"generation|" + lookup_id.encode(), hashlib.sha256).hexdigest()[:32]


def access_code_key(normalised_code: str, salt: bytes, case_id: int) -> bytes:
    # The code already carries 115 bits of entropy, so a fast KDF is enough here.
    return HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=salt,
        info=f"{PROTOCOL} reporter case {case_id}".encode(),
    ).derive(normalised_code.encode())
