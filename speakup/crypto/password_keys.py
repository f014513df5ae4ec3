"""Keys derived from passwords with Argon2id."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from speakup.crypto.sealing import KEY_BYTES, SALT_BYTES


@dataclass(frozen=True)
class PasswordParams:
    memory_kib: int
    iterations: int
    lanes: int = 1


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_BYTES)


def password_key(password: str, salt: bytes, params: PasswordParams) -> bytes:
    """One Argon2id derivation: the only costly step of a sign-in."""
    kdf = Argon2id(
        salt=salt,
        length=KEY_BYTES,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    )
    return kdf.derive(password.encode("utf-8"))
