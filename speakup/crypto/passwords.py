"""Password policy, following NIST SP 800-63B: long enough, no composition rules, and not easy to guess.

`password_problem` returns None for an acceptable password, or one plain-English sentence saying what to change (a
``Problem``, which the layer showing it translates).
Messages never repeat the password. Lengths are Unicode code points after NFKC normalisation, so a passphrase in
any language counts the characters a person typed, and spaces count like any other character.

"Easy to guess" means: the email address or the person's name with little added, the service's name, one character
or a short piece repeated, a simple run of letters, digits or keyboard keys, or a common password (Django's list of
20,000, see data/README.md), including a common password with a few digits or symbols added.
"""

from __future__ import annotations

import functools
import gzip
import re
import unicodedata
from collections import Counter
from importlib import resources

from speakup.crypto.catalogue import N_

MIN_LENGTH = 12
MAX_LENGTH = 256


class Problem(str):
    """What to change: one plain-English sentence (the string itself), carrying the message it was made from and the
    values that go in it, so the layer that shows it translates it (``gettext(problem.msgid, **problem.values)``)
    and this module needs no Flask."""

    msgid: str
    values: dict[str, int]

    def __new__(cls, msgid: str, **values: int) -> Problem:
        problem = super().__new__(cls, msgid % values if values else msgid)
        problem.msgid, problem.values = msgid, values
        return problem


TOO_SHORT = Problem(N_("Your password must be at least %(min_length)d characters"), min_length=MIN_LENGTH)
TOO_LONG = Problem(N_("Your password must be at most %(max_length)d characters"), max_length=MAX_LENGTH)
CONTAINS_EMAIL = Problem(N_("Your password must not contain your email address"))
BASED_ON_EMAIL = Problem(N_("Your password must not be based on your email address: add words of your own"))
BASED_ON_NAME = Problem(N_("Your password must not be based on your name: add words of your own"))
CONTAINS_SERVICE = Problem(N_("Your password must not contain the name of the service"))
REPETITIVE = Problem(N_("Choose a password that is harder to guess: this one repeats a character or a short pattern"))
SEQUENCE = Problem(
    N_("Choose a password that is harder to guess: this one is a simple run of letters, numbers or keyboard keys")
)
COMMON = Problem(N_("Choose a password that is harder to guess: this one is in a list of common passwords"))
COMMON_VARIANT = Problem(
    N_("Choose a password that is harder to guess: this one is a common password with a few characters added")
)

SERVICE_NAMES = ("speakup",)  # compared with spaces and punctuation removed, so "Speak Up" and "speak-up" match

# Runs along these (read forwards or backwards, wrapping round) count as simple sequences.
_SEQUENCES = (
    "0123456789",
    "abcdefghijklmnopqrstuvwxyz",
    "qwertyuiopasdfghjklzxcvbnm",  # keyboard rows, one after another
    "!@#$%^&*()",  # shifted digit row
)
_MIN_RUN = 3  # shorter runs are everywhere in ordinary words
_SEQUENCE_SHARE = 0.75  # the share of the password covered by runs before it counts as a sequence
_MAX_REPEATED_UNIT = 6
_MIN_DISTINCT = 5  # fewer distinct characters than this is a repeated pattern, whatever the length
_MIN_OWN_CHARS = 6  # what must remain, besides a name or email, for the password not to be "based on" it
_MAX_DATE_DIGITS = 8  # digits added to a name or common password: up to a date (19900101) adds little
_NAME_PART = re.compile(r"[\W_]+")
_TRAILING_NON_LETTERS = re.compile(r"[\W\d_]+\Z")


def password_problem(password: str, *, email: str = "", name: str = "") -> Problem | None:
    """None when the password is acceptable, otherwise a message saying what to change."""
    normalised = unicodedata.normalize("NFKC", password)
    if len(normalised) < MIN_LENGTH:
        return TOO_SHORT
    if len(normalised) > MAX_LENGTH:
        return TOO_LONG
    folded = normalised.casefold()
    return _identity_problem(folded, email, name) or _pattern_problem(folded)


def _identity_problem(folded: str, email: str, name: str) -> Problem | None:
    """The person's email address or name, or the service's name, with too little of their own."""
    compact = _compact(folded)
    email = _fold(email.strip())
    if email:
        if email in folded or ("@" in email and _compact(email) in compact):
            return CONTAINS_EMAIL
        if _based_on(compact, email.rpartition("@")[0] or email):
            return BASED_ON_EMAIL
    if name.strip() and _based_on(compact, _fold(name)):
        return BASED_ON_NAME
    if any(service in compact for service in SERVICE_NAMES):
        return CONTAINS_SERVICE
    return None


def _pattern_problem(folded: str) -> Problem | None:
    """Repeats, runs of keys and common passwords, however spaced."""
    unspaced = "".join(folded.split())
    forms = [unspaced]
    core = _TRAILING_NON_LETTERS.sub("", unspaced)
    if core != unspaced and len(core) * 2 >= len(unspaced):
        forms.append(core)  # "abcabcabcabc2024!" is still a repeated pattern
    if any(_is_repetitive(form) for form in forms):
        return REPETITIVE
    if any(_is_sequence(form) for form in forms):
        return SEQUENCE

    common = common_passwords()
    if folded in common or unspaced in common:
        return COMMON
    if _is_common_variant(folded, common):
        return COMMON_VARIANT
    return None


@functools.cache
def common_passwords() -> frozenset[str]:
    """Django's list of common passwords, lower-cased; read once, on first use."""
    source = resources.files(__package__).joinpath("data").joinpath("common-passwords.txt.gz")
    with source.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        return frozenset(entry for entry in (_fold(line.strip()) for line in lines) if entry)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _compact(text: str) -> str:
    """Letters and digits only: spaces and punctuation do not disguise a word."""
    return "".join(char for char in text if char.isalnum())


def _based_on(compact_password: str, identity: str) -> bool:
    """Whether the password is the name (or email local part), or its parts, with little of the person's own added.

    Merely containing a name is allowed ("demo guardian password" for Demo Guardian): what is left once the name
    and its parts are taken out must be at least six characters that are not a year, a date or a simple pattern.
    """
    pieces = {_compact(identity), *(_compact(part) for part in _NAME_PART.split(identity))}
    remainder = compact_password
    for piece in sorted((piece for piece in pieces if len(piece) >= 3), key=len, reverse=True):
        remainder = remainder.replace(piece, "")
    if remainder == compact_password:
        return False
    return _is_weak_extra(remainder)


def _is_weak_extra(text: str) -> bool:
    """Characters added to something guessable that add little: a few, a year or date, or a simple pattern."""
    text = "".join(text.split())
    return (
        len(text) < _MIN_OWN_CHARS
        or (text.isdigit() and len(text) <= _MAX_DATE_DIGITS)
        or _is_repetitive(text)
        or _is_sequence(text)
    )


def _is_repetitive(text: str) -> bool:
    """Mostly one character ("aaaaaaaaaaab"), few distinct characters ("121212121212"), or a short piece repeated."""
    if not text:
        return True
    counts = Counter(text)
    if counts.most_common(1)[0][1] * 2 >= len(text) or len(counts) < _MIN_DISTINCT:
        return True
    for unit in range(1, min(_MAX_REPEATED_UNIT, len(text) // 2) + 1):
        if all(text[i] == text[i % unit] for i in range(unit, len(text))):
            return True
    return False


def _is_sequence(text: str) -> bool:
    """Whether runs of at least three consecutive letters, digits or keys make up most of the text."""
    if not text:
        return False
    covered = [False] * len(text)
    for sequence in _SEQUENCES:
        position = {char: index for index, char in enumerate(sequence)}
        for step in (1, -1):
            start = 0
            while start < len(text):
                end = start
                while end + 1 < len(text) and _follows(sequence, position, text[end], text[end + 1], step):
                    end += 1
                if end - start + 1 >= _MIN_RUN:
                    covered[start : end + 1] = [True] * (end - start + 1)
                start = end + 1
    return sum(covered) >= _SEQUENCE_SHARE * len(text)


def _follows(sequence: str, position: dict[str, int], first: str, second: str, step: int) -> bool:
    index = position.get(first)
    return index is not None and sequence[(index + step) % len(sequence)] == second


def _is_common_variant(folded: str, common: frozenset[str]) -> bool:
    """A common password with digits or symbols added: "Password1234!", "p.a.s.s.w.o.r.d.1", "1234iloveyou".

    Only when the common password is the bulk of what was typed (at least half of it), or what was added is
    itself a simple pattern ("password123456789"). "monkey 8472 9381 2745" adds enough and is allowed.
    """
    letters = "".join(char for char in folded if char.isalpha())
    if letters != folded and letters in common:
        added = "".join(char for char in folded if not char.isalpha())
        if len(letters) * 2 >= len(folded) or _is_weak_extra(added):
            return True
    core = _TRAILING_NON_LETTERS.sub("", folded)
    for cut in range(len(core), len(folded)):  # "password1!!!": "password", then "password1", ...
        prefix = folded[:cut].rstrip()
        if prefix in common and (len(prefix) * 2 >= len(folded) or _is_weak_extra(folded[cut:])):
            return True
    return False
