"""Authenticated encryption of records under a case key (AES-256-GCM), keyed hashes and encodings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PROTOCOL = "speakup-v1"

# First byte of every ciphertext we store, so algorithms can change later without guessing.
VERSION_BYTE = b"\x01"

KEY_BYTES = 32

NONCE_BYTES = 12

SALT_BYTES = 16


class DecryptionError(Exception):
    """A ciphertext could not be opened: wrong key, wrong context, or tampered bytes."""


def new_case_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def associated_data(case_id: int, kind: str, record_id: str | int) -> bytes:
    """Binds a ciphertext to one field of one record of one case, so it cannot be moved."""
    return f"{PROTOCOL}|case:{case_id}|{kind}|{record_id}".encode()


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return VERSION_BYTE + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != VERSION_BYTE:
        raise DecryptionError("unsupported or truncated ciphertext")
    nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, aad)
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError("ciphertext did not authenticate") from exc


def seal_text(key: bytes, text: str, aad: bytes) -> bytes:
    return seal(key, text.encode("utf-8"), aad)


def open_text(key: bytes, blob: bytes, aad: bytes) -> str:
    return open_sealed(key, blob, aad).decode("utf-8")


def keyed_hash(pepper: bytes, value: str, purpose: str) -> str:
    """A stable pseudonym for a value we must not keep, such as a client address for rate limits."""
    return hmac.new(pepper, f"{purpose}|{value}".encode(), hashlib.sha256).hexdigest()


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
