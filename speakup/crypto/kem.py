"""Hybrid post-quantum key encapsulation (HPKE, ML-KEM-768 + X25519) that wraps case keys."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from speakup.crypto.sealing import PROTOCOL, VERSION_BYTE, DecryptionError

_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)

_MLKEM_SEED_BYTES = 64

_X25519_BYTES = 32

_MLKEM_PUBLIC_BYTES = 1184

PRIVATE_KEY_BYTES = _MLKEM_SEED_BYTES + _X25519_BYTES  # an HPKE private key as stored: ML-KEM seed, X25519 key


@dataclass(frozen=True)
class KeyPair:
    private_bytes: bytes  # ML-KEM-768 seed (64) + X25519 private key (32)
    public_bytes: bytes  # ML-KEM-768 encapsulation key (1184) + X25519 public key (32)


def generate_keypair() -> KeyPair:
    kem = mlkem.MLKEM768PrivateKey.generate()
    ecdh = x25519.X25519PrivateKey.generate()
    return KeyPair(
        private_bytes=kem.private_bytes_raw() + ecdh.private_bytes_raw(),
        public_bytes=kem.public_key().public_bytes_raw() + ecdh.public_key().public_bytes_raw(),
    )


def _load_private(private_bytes: bytes) -> hpke.MLKEM768X25519PrivateKey:
    if len(private_bytes) != PRIVATE_KEY_BYTES:
        raise DecryptionError("not a speakup-v1 private key")
    kem = mlkem.MLKEM768PrivateKey.from_seed_bytes(private_bytes[:_MLKEM_SEED_BYTES])
    ecdh = x25519.X25519PrivateKey.from_private_bytes(private_bytes[_MLKEM_SEED_BYTES:])
    return hpke.MLKEM768X25519PrivateKey(kem, ecdh)


@functools.lru_cache(maxsize=256)  # the same few guardians' keys for every new case; public, so safe to keep
def _load_public(public_bytes: bytes) -> hpke.MLKEM768X25519PublicKey:
    if len(public_bytes) != _MLKEM_PUBLIC_BYTES + _X25519_BYTES:
        raise ValueError("not a speakup-v1 public key")
    kem = mlkem.MLKEM768PublicKey.from_public_bytes(public_bytes[:_MLKEM_PUBLIC_BYTES])
    ecdh = x25519.X25519PublicKey.from_public_bytes(public_bytes[_MLKEM_PUBLIC_BYTES:])
    return hpke.MLKEM768X25519PublicKey(kem, ecdh)


def public_key_of(private_bytes: bytes) -> bytes:
    """Derives the public half, to check that a recovery key file matches the stored public key."""
    if len(private_bytes) != PRIVATE_KEY_BYTES:
        raise DecryptionError("not a speakup-v1 private key")
    kem = mlkem.MLKEM768PrivateKey.from_seed_bytes(private_bytes[:_MLKEM_SEED_BYTES])
    ecdh = x25519.X25519PrivateKey.from_private_bytes(private_bytes[_MLKEM_SEED_BYTES:])
    return kem.public_key().public_bytes_raw() + ecdh.public_key().public_bytes_raw()


def _grant_info(case_id: int) -> bytes:
    return f"{PROTOCOL} case {case_id}".encode()


def wrap_case_key(case_key: bytes, public_bytes: bytes, case_id: int) -> bytes:
    """Encrypts a case key to one recipient (guardian or recovery key) with HPKE."""
    return VERSION_BYTE + _SUITE.encrypt(case_key, _load_public(public_bytes), info=_grant_info(case_id))


def unwrap_case_key(wrapped: bytes, private_bytes: bytes, case_id: int) -> bytes:
    if wrapped[:1] != VERSION_BYTE:
        raise DecryptionError("unsupported grant version")
    try:
        return _SUITE.decrypt(wrapped[1:], _load_private(private_bytes), info=_grant_info(case_id))
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError("grant did not open with this key") from exc


def seal_to(plaintext: bytes, public_bytes: bytes, info: bytes) -> bytes:
    """Seals bytes to one recipient's public key with HPKE: no secret is needed to seal, only their private key
    opens it. ``info`` is the label it is bound to (speakup/crypto/labels.py)."""
    return VERSION_BYTE + _SUITE.encrypt(plaintext, _load_public(public_bytes), info=info)


def open_sealed_to(sealed: bytes, private_bytes: bytes, info: bytes) -> bytes:
    if sealed[:1] != VERSION_BYTE:
        raise DecryptionError("unsupported version")
    try:
        return _SUITE.decrypt(sealed[1:], _load_private(private_bytes), info=info)
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError("did not open with this key") from exc


def fingerprint(public_bytes: bytes) -> str:
    return hashlib.sha256(public_bytes).hexdigest()[:16]
