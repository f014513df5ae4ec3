"""Cryptographic primitives for protocol speakup-v1.

Everything here comes from ``cryptography``; nothing is hand-rolled except the access code's
check character, which is a typo check (Luhn mod 32), not a security mechanism.
This module knows nothing of Flask or the database: bytes in, bytes out.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa, mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP

PROTOCOL = "speakup-v1"
# First byte of every ciphertext we store, so algorithms can change later without guessing.
VERSION_BYTE = b"\x01"
KEY_BYTES = 32
NONCE_BYTES = 12
SALT_BYTES = 16

_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_MLKEM_SEED_BYTES = 64
_X25519_BYTES = 32
_MLKEM_PUBLIC_BYTES = 1184
PRIVATE_KEY_BYTES = _MLKEM_SEED_BYTES + _X25519_BYTES  # an HPKE private key as stored: ML-KEM seed, X25519 key


class DecryptionError(Exception):
    """A ciphertext could not be opened: wrong key, wrong context, or tampered bytes."""


class InvalidAccessCode(Exception):
    """An access code is malformed or its check character does not match."""


# --- Symmetric sealing -------------------------------------------------------------------


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


# --- Recipient keypairs (hybrid post-quantum HPKE) ---------------------------------------


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


def fingerprint(public_bytes: bytes) -> str:
    return hashlib.sha256(public_bytes).hexdigest()[:16]


# --- Signatures (hybrid Ed25519 + ML-DSA-65) ------------------------------------------------

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


# --- Password-protected private keys ----------------------------------------------------


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


# --- Time-based one-time passwords (RFC 6238) -----------------------------------------

TOTP_STEP = 30
TOTP_DIGITS = 6


def new_totp_secret() -> bytes:
    return secrets.token_bytes(20)


def _totp(secret: bytes) -> TOTP:
    # SHA-1 is what RFC 6238 authenticator apps use; HMAC-SHA1 stays sound for this purpose.
    return TOTP(secret, TOTP_DIGITS, hashes.SHA1(), TOTP_STEP, enforce_key_length=True)  # noqa: S303


def totp_uri(secret: bytes, account: str, issuer: str) -> str:
    return _totp(secret).get_provisioning_uri(account, issuer)


def totp_now(secret: bytes, at: float) -> str:
    return _totp(secret).generate(int(at)).decode()


def totp_step_matching(secret: bytes, code: str, at: float) -> int | None:
    """The time step a code belongs to (allowing one step of clock drift either way), or None."""
    code = "".join(code.split())
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return None
    totp = _totp(secret)
    step = int(at) // TOTP_STEP
    for candidate in (step, step - 1, step + 1):
        try:
            totp.verify(code.encode(), candidate * TOTP_STEP)
        except InvalidToken:
            continue
        return candidate
    return None


# --- Access codes ------------------------------------------------------------------------

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


def normalise_access_code(code: str) -> str:
    """Upper-cases, drops spaces and hyphens, maps look-alikes, and verifies the check character."""
    cleaned = "".join(code.split()).replace("-", "").upper().translate(_CONFUSABLE)
    if len(cleaned) != CODE_DATA_CHARS + 1 or any(c not in ALPHABET for c in cleaned):
        raise InvalidAccessCode("wrong length or characters")
    if _check_character(cleaned[:-1]) != cleaned[-1]:
        raise InvalidAccessCode("check character does not match")
    return cleaned


def access_code_lookup_id(pepper: bytes, normalised_code: str) -> str:
    """The only thing stored that is derived from the code; useless without the server pepper."""
    return hmac.new(pepper, b"lookup|" + normalised_code.encode(), hashlib.sha256).hexdigest()


def access_code_key(normalised_code: str, salt: bytes, case_id: int) -> bytes:
    # The code already carries 115 bits of entropy, so a fast KDF is enough here.
    return HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=salt,
        info=f"{PROTOCOL} reporter case {case_id}".encode(),
    ).derive(normalised_code.encode())


def keyed_hash(pepper: bytes, value: str, purpose: str) -> str:
    """A stable pseudonym for a value we must not keep, such as a client address for rate limits."""
    return hmac.new(pepper, f"{purpose}|{value}".encode(), hashlib.sha256).hexdigest()


# --- Small encodings ---------------------------------------------------------------------


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode("ascii"))


def new_session_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)
