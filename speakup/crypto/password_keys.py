"""Keys derived from passwords with Argon2id."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from speakup.crypto.sealing import KEY_BYTES, SALT_BYTES


@dataclass(frozen=True)
class PasswordParams:
    memory_kib: int
    iterations: int
    lanes: int = 1
    # The server's pepper is Argon2id's secret input, so a copy of the database without the environment file gives
    # nothing to test password guesses against. False only for accounts sealed before it was (moved at sign-in).
    peppered: bool = True


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_BYTES)


def pepper_secret(pepper: bytes) -> bytes:
    """Argon2id's secret input, derived from the server's pepper for this one purpose (the pepper also keys lookup
    hashes, and a key serves one purpose only)."""
    return HKDF(hashes.SHA256(), KEY_BYTES, salt=None, info=b"speakup-v1 argon2id secret").derive(pepper)


def password_key(password: str, salt: bytes, params: PasswordParams, secret: bytes | None = None) -> bytes:
    """One Argon2id derivation: the only costly step of a sign-in. ``secret`` (from ``pepper_secret``) is mixed in
    when ``params.peppered``."""
    kdf = Argon2id(
        salt=salt,
        length=KEY_BYTES,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
        secret=secret if params.peppered else None,
    )
    return kdf.derive(password.encode("utf-8"))
