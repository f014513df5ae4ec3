"""Padding a text to a fixed bucket before it is sealed, so the ciphertext's length says little about the text's.

AES-GCM's ciphertext is exactly as long as its plaintext: unpadded, a stolen database tells the length of every
name ("Al" from "Bartholomew-Smythe"), contact and message. Padding hides nothing secret by itself and is not
cryptography; it lives here because only sealing uses it (sealing.seal_text).

Format, as ISO/IEC 7816-4: the text's bytes, one 0x80 byte, then zero bytes up to the bucket. The bucket is the
smallest power of two that holds the text and the marker, and never less than MIN_BUCKET: every identity (a name and
a contact as JSON) and every message up to 255 bytes seals to the same length, and a longer text shows only which
power of two its length lies under (at most 2x the room, and a 20,000-character concern is 32 KiB or 64 KiB
depending on its script).

Unpadding happens only after AES-GCM has authenticated the plaintext, so a bad marker can only mean a bug, never
an oracle for someone tampering with ciphertexts.
"""

from __future__ import annotations

MIN_BUCKET = 256
MARKER = b"\x80"


class PaddingError(ValueError):
    """The padded text has no marker: it was not made by pad()."""


def bucket_size(length: int) -> int:
    """How long ``length`` bytes of text are once padded: a power of two with room for the marker, at least
    MIN_BUCKET. (``1 << length.bit_length()`` is the smallest power of two above ``length``.)"""
    return max(MIN_BUCKET, 1 << length.bit_length())


def pad(text: bytes) -> bytes:
    size = bucket_size(len(text))
    return text + MARKER + bytes(size - len(text) - 1)


def unpad(padded: bytes) -> bytes:
    """The text pad() was given. Any length is read, not only today's buckets, so the rule for buckets can change
    without sealing anything again."""
    text = padded.rstrip(b"\x00")
    if not text.endswith(MARKER):
        raise PaddingError("padding marker missing")
    return text[: -len(MARKER)]
