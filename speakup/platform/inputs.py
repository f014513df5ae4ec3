"""Reading what people (or attackers) type into forms and URLs, and the one error that says what was wrong."""

from __future__ import annotations

import re

# ASCII digits only (str.isdigit() also accepts "²", which int() refuses) and small enough for any
# integer column, so odd input is a clear "not found" rather than a crash.
_SMALL_NUMBER = re.compile(r"[0-9]{1,9}")


def parse_int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value < 10**9 else None
    if isinstance(value, str) and _SMALL_NUMBER.fullmatch(value):
        return int(value)
    return None


def clean_text(value: object) -> str:
    """A typed value with surrounding white space removed; anything but a string is empty."""
    return value.strip() if isinstance(value, str) else ""


def required_text(value: object, field: str, missing: str, limit: int, what: str) -> str:
    """Typed text that must be there and fit: the cleaned text, or InvalidInput by ``field`` saying which rule."""
    text = clean_text(value)
    if not text:
        raise InvalidInput({field: missing})
    if len(text) > limit:
        raise InvalidInput({field: f"{what} must be {limit:,} characters or fewer"})
    return text


class InvalidInput(Exception):
    """Input that breaks a rule. ``errors`` maps each field to a message a person can act on."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("invalid input: " + ", ".join(sorted(errors)))
        self.errors = errors
