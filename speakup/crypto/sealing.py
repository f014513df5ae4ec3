"""Authenticated encryption of records under a case key (AES-256-GCM), keyed hashes and encodings.

Two ciphertext formats, told apart by their first byte:

- ``0x01``: ``seal()``, for bytes whose length says nothing (keys, an attachment's bytes), and every text sealed
  before padding: ``0x01 || nonce || AES-256-GCM(key, nonce, plaintext, aad)``.
- ``0x02``: ``seal_text()``, for everything a person writes (concern, name and contact, messages, notes, ...):
  the text padded to a fixed bucket first (padding.py), so its length does not show, and the format byte itself
  authenticated: ``0x02 || nonce || AES-256-GCM(key, nonce, pad(text), 0x02 || aad)``. Without that, a padded
  ciphertext relabelled ``0x01`` would open with its padding on, and an old one relabelled ``0x02`` would be
  unpadded wrongly.

``open_text()`` reads both, so databases from before padding need nothing done to them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from speakup.crypto import padding

PROTOCOL = "speakup-v1"

# First byte of every ciphertext we store, so algorithms can change later without guessing.
VERSION_BYTE = b"\x01"
# First byte of a text sealed with padding (seal_text since issue 23); still protocol speakup-v1: the same key,
# cipher and associated data, only the plaintext's layout and the authenticated format byte differ.
PADDED_VERSION_BYTE = b"\x02"

KEY_BYTES = 32

NONCE_BYTES = 12

SALT_BYTES = 16


class DecryptionError(Exception):
    """A ciphertext could not be opened: wrong key, wrong context, or tampered bytes."""


def new_case_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def _seal(version: bytes, key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return version + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(version: bytes, key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != version:
        raise DecryptionError("unsupported or truncated ciphertext")
    nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, aad)
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError("ciphertext did not authenticate") from exc


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Bytes as they are (format 0x01): for keys and other values whose length tells nothing. Text goes through
    seal_text()."""
    return _seal(VERSION_BYTE, key, plaintext, aad)


def open_sealed(key: bytes, blob: bytes, aad: bytes) -> bytes:
    return _open(VERSION_BYTE, key, blob, aad)


def seal_text(key: bytes, text: str, aad: bytes) -> bytes:
    """A text padded to its bucket, then sealed (format 0x02): its length shows only the bucket."""
    return _seal(PADDED_VERSION_BYTE, key, padding.pad(text.encode("utf-8")), PADDED_VERSION_BYTE + aad)


def open_text(key: bytes, blob: bytes, aad: bytes) -> str:
    """Opens a text of either format: padded (0x02), or sealed before padding (0x01)."""
    if blob[:1] != PADDED_VERSION_BYTE:
        return open_sealed(key, blob, aad).decode("utf-8")
    padded = _open(PADDED_VERSION_BYTE, key, blob, PADDED_VERSION_BYTE + aad)
    try:
        return padding.unpad(padded).decode("utf-8")
    except padding.PaddingError as exc:
        raise DecryptionError("padding missing") from exc


def keyed_hash(pepper: bytes, value: str, purpose: str) -> str:
    """A stable pseudonym for a value we must not keep, such as a client address for rate limits."""
    return hmac.new(pepper, f"{purpose}|{value}".encode(), hashlib.sha256).hexdigest()


def keyed_hashes(peppers: Sequence[bytes], value: str, purpose: str) -> tuple[str, ...]:
    """``keyed_hash`` of one value under each configured pepper, the current one first: what a lookup accepts, so a
    code, token, link or form made before a rotation of the pepper is still found (writes use the first alone)."""
    return tuple(keyed_hash(pepper, value, purpose) for pepper in peppers)


STAMP_LABEL = "pepper-stamp"

StampField = bytes | str | int | bool | datetime | None


def _stamp_field(value: StampField) -> str:
    """One field as unambiguous text: its type, then its value (a time in UTC, as stored naive or aware)."""
    if value is None:
        return "n:"
    if isinstance(value, bytes):
        return "b:" + value.hex()
    if isinstance(value, bool):
        return "o:" + ("1" if value else "0")
    if isinstance(value, int):
        return f"i:{value}"
    if isinstance(value, datetime):
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return "t:" + utc.isoformat()
    return "s:" + value


def row_stamp(pepper: bytes, kind: str, fields: Sequence[StampField]) -> str:
    """What a rotation of the pepper vouches for: a keyed hash under the NEW pepper of a row's kind, identity and
    the exact material a fallback pepper would accept (docs/protocol.md, "Rotating the pepper"). Without that pepper
    nobody can make one, so a row forged or changed with only an old pepper fails ``stamp_holds``."""
    text = "|".join(f"{len(each)}:{each}" for each in (kind, *(_stamp_field(value) for value in fields)))
    return keyed_hash(pepper, text, STAMP_LABEL)


def stamp_holds(pepper: bytes, stamp: str | None, kind: str, fields: Sequence[StampField]) -> bool:
    return stamp is not None and hmac.compare_digest(stamp, row_stamp(pepper, kind, fields))


def found_stamp_holds(
    peppers: Sequence[bytes],
    hashes: Sequence[str],
    found: str,
    stamp: str | None,
    kind: str,
    fields: Sequence[StampField],
) -> bool:
    """Whether a row found by ``found`` among ``hashes`` (``keyed_hashes`` under ``peppers``, the current first) may
    open: found under the current pepper, or under a fallback and its stamp, under the current pepper, holds for
    the row's fields and that fallback's id."""
    index = hashes.index(found)
    return index == 0 or stamp_holds(peppers[0], stamp, kind, (*fields, pepper_id(peppers[index])))


def rotated_stamp(
    stamp: str | None, kind: str, fields: Sequence[StampField], old: bytes, fallbacks: Sequence[bytes], new: bytes
) -> str | None:
    """The stamp a rotation from ``old`` to ``new`` gives a row found by a keyed hash: a row with no stamp is under
    ``old`` (one forged under a fallback then still fails ``found_stamp_holds``, which names the pepper it matched);
    one whose stamp holds under ``old`` for a fallback's id is vouched for again; any other row gets none."""
    if stamp is None:
        return row_stamp(new, kind, (*fields, pepper_id(old)))
    for pepper in fallbacks:
        if stamp_holds(old, stamp, kind, (*fields, pepper_id(pepper))):
            return row_stamp(new, kind, (*fields, pepper_id(pepper)))
    return None


PEPPER_ID_LABEL = "pepper-id"
PEPPER_ID_CHARS = 32


def pepper_id(pepper: bytes) -> str:
    """A pepper's public name, never the pepper: a keyed hash of a fixed label under it (128 bits). The audit trail
    and the accounts name the pepper their rows are under by it."""
    return keyed_hash(pepper, PROTOCOL, PEPPER_ID_LABEL)[:PEPPER_ID_CHARS]


def key_from_token(token: str, purpose: str, pepper: bytes) -> bytes:
    """A sealing key from a token only its holder has. The server pepper is the salt, so a stolen database alone
    cannot test guesses at a token that has less entropy than it should (a client's counter-like key, say)."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=pepper, info=f"{PROTOCOL}|{purpose}".encode()).derive(
        token.encode()
    )


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode("ascii"))


def new_session_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)
