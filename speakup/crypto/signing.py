"""Hybrid signatures (Ed25519 + ML-DSA-65, both must verify), roster fingerprints and safety codes."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa

from speakup.crypto.sealing import PROTOCOL, VERSION_BYTE

_ED25519_BYTES = 32

_MLDSA_SEED_BYTES = 32

_MLDSA65_PUBLIC_BYTES = 1952

_ED25519_SIGNATURE_BYTES = 64

SIGNING_PRIVATE_BYTES = _ED25519_BYTES + _MLDSA_SEED_BYTES

SIGNING_PUBLIC_BYTES = _ED25519_BYTES + _MLDSA65_PUBLIC_BYTES


@dataclass(frozen=True)
class SigningKeyPair:
    private_bytes: bytes  # Ed25519 private key (32) + ML-DSA-65 seed (32)
    public_bytes: bytes  # Ed25519 public key (32) + ML-DSA-65 public key (1952)


def generate_signing_keypair() -> SigningKeyPair:
    classic = ed25519.Ed25519PrivateKey.generate()
    quantum = mldsa.MLDSA65PrivateKey.generate()
    return SigningKeyPair(
        private_bytes=classic.private_bytes_raw() + quantum.private_bytes_raw(),
        public_bytes=classic.public_key().public_bytes_raw() + quantum.public_key().public_bytes_raw(),
    )


def _load_signing(private_bytes: bytes) -> tuple[ed25519.Ed25519PrivateKey, mldsa.MLDSA65PrivateKey]:
    if len(private_bytes) != SIGNING_PRIVATE_BYTES:
        raise ValueError("not a speakup-v1 signing key")
    return (
        ed25519.Ed25519PrivateKey.from_private_bytes(private_bytes[:_ED25519_BYTES]),
        mldsa.MLDSA65PrivateKey.from_seed_bytes(private_bytes[_ED25519_BYTES:]),
    )


def signing_public_key_of(private_bytes: bytes) -> bytes:
    classic, quantum = _load_signing(private_bytes)
    return classic.public_key().public_bytes_raw() + quantum.public_key().public_bytes_raw()


def _signed_message(context: str, message: bytes) -> bytes:
    # The context names what is signed, so a signature over one kind of statement never passes for another.
    return f"{PROTOCOL}|{context}|".encode() + message


def sign(private_bytes: bytes, context: str, message: bytes) -> bytes:
    """Both signatures, Ed25519 then ML-DSA-65: forging one needs both schemes broken."""
    classic, quantum = _load_signing(private_bytes)
    data = _signed_message(context, message)
    return VERSION_BYTE + classic.sign(data) + quantum.sign(data)


def verify_signature(public_bytes: bytes, context: str, message: bytes, signature: bytes) -> bool:
    """True only when both the Ed25519 and the ML-DSA-65 signature verify."""
    if len(public_bytes) != SIGNING_PUBLIC_BYTES or signature[:1] != VERSION_BYTE:
        return False
    classic_sig = signature[1 : 1 + _ED25519_SIGNATURE_BYTES]
    quantum_sig = signature[1 + _ED25519_SIGNATURE_BYTES :]
    data = _signed_message(context, message)
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public_bytes[:_ED25519_BYTES]).verify(classic_sig, data)
        mldsa.MLDSA65PublicKey.from_public_bytes(public_bytes[_ED25519_BYTES:]).verify(quantum_sig, data)
    except (InvalidSignature, ValueError):
        return False
    return True


def roster_fingerprint(signing_public: bytes) -> str:
    """SHA-256 of both public keys of the organisation signing key, in groups of four, for pinning in config."""
    digest = hashlib.sha256(b"speakup-v1 roster root|" + signing_public).hexdigest()
    return "-".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def normalise_fingerprint(text: str) -> str:
    """Lower case, spaces and hyphens dropped: what two fingerprints are compared as."""
    return "".join(text.split()).replace("-", "").lower()


SAFETY_CODE_DIGITS = 20


def safety_code(hpke_public: bytes, signing_public: bytes) -> str:
    """A short code derived from a person's public keys, read aloud or typed to approve them: a key swapped
    between their enrolment and the approval gives another code. 20 digits, about 66 bits."""
    digest = hashlib.sha256(b"speakup-v1 safety code|" + hpke_public + b"|" + signing_public).digest()
    digits = str(int.from_bytes(digest[:16], "big") % 10**SAFETY_CODE_DIGITS).zfill(SAFETY_CODE_DIGITS)
    return " ".join(digits[i : i + 5] for i in range(0, SAFETY_CODE_DIGITS, 5))


def same_safety_code(typed: str, expected: str) -> bool:
    """Spaces, hyphens and other separators in what was typed do not matter; the digits must all match."""
    digits = "".join(c for c in typed if c.isdigit() and c.isascii())
    return hmac.compare_digest(digits, expected.replace(" ", ""))
