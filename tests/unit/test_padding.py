"""Texts are padded to fixed buckets before they are sealed (speakup/crypto/padding.py), so a ciphertext's length
does not give away a name's; ciphertexts sealed before padding (format 0x01) still open."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from speakup.crypto import labels, padding, sealing

KEY = bytes(range(32))
IDENTITY_AAD = labels.identity(7)
# Sealed by seal_text before padding (commit 82e5e6f): what a database from before holds, byte for byte.
UNPADDED_IDENTITY = bytes.fromhex(
    "0179a884869d1591be4f8ae5974bb38222a5a328b5ef0ba5e3e709d1e6f2151ed6df4d43dcf6bd7532b0df6483cd8a339954bfac24bd95"
    "78cde7ba56b2"
)


@pytest.mark.parametrize(
    ("length", "bucket"),
    [(0, 256), (1, 256), (255, 256), (256, 512), (511, 512), (512, 1024), (20_000, 32_768), (80_000, 131_072)],
)
def test_buckets_are_powers_of_two_from_256_with_room_for_the_marker(length: int, bucket: int) -> None:
    assert padding.bucket_size(length) == bucket
    padded = padding.pad(b"x" * length)
    assert len(padded) == bucket
    assert padding.unpad(padded) == b"x" * length


@pytest.mark.parametrize("text", [b"", b"\x00", b"ends in zero\x00\x00", b"ends in the marker\x80", "Āe".encode()])
def test_unpadding_gives_back_exactly_what_was_padded(text: bytes) -> None:
    assert padding.unpad(padding.pad(text)) == text


@pytest.mark.parametrize("broken", [b"", b"\x00" * 256, b"no marker" + b"\x00" * 247])
def test_padding_without_its_marker_is_refused(broken: bytes) -> None:
    with pytest.raises(padding.PaddingError):
        padding.unpad(broken)


def test_names_of_different_lengths_seal_to_the_same_length() -> None:
    short = sealing.seal_text(KEY, '{"name": "A", "contact": ""}', IDENTITY_AAD)
    long = sealing.seal_text(KEY, '{"name": "' + "B" * 40 + '", "contact": "someone@example.org"}', IDENTITY_AAD)
    assert len(short) == len(long) == 1 + sealing.NONCE_BYTES + 256 + 16
    assert short[:1] == long[:1] == sealing.PADDED_VERSION_BYTE


def test_a_ciphertext_from_before_padding_still_opens() -> None:
    assert sealing.open_text(KEY, UNPADDED_IDENTITY, IDENTITY_AAD) == '{"name": "Nadia", "contact": ""}'
    with pytest.raises(sealing.DecryptionError):
        sealing.open_text(KEY, UNPADDED_IDENTITY, labels.identity(8))


def test_the_format_byte_is_bound_to_the_ciphertext() -> None:
    """A padded ciphertext relabelled as unpadded (or the reverse) does not open: the byte is authenticated."""
    padded = sealing.seal_text(KEY, "Nadia", IDENTITY_AAD)
    with pytest.raises(sealing.DecryptionError):
        sealing.open_text(KEY, sealing.VERSION_BYTE + padded[1:], IDENTITY_AAD)
    with pytest.raises(sealing.DecryptionError):
        sealing.open_text(KEY, sealing.PADDED_VERSION_BYTE + UNPADDED_IDENTITY[1:], IDENTITY_AAD)
    with pytest.raises(sealing.DecryptionError):
        sealing.open_sealed(KEY, padded, IDENTITY_AAD)  # the binary opener reads only what seal() makes


# Raw seal() keeps the plaintext's length: only for secrets of a fixed length or bytes that are not text. Everything
# a person writes goes through seal_text(), which pads. A module that starts calling seal() must be added here, with
# what it seals, once it is clear that no text goes that way.
RAW_SEALS = {
    "speakup/keys/sessions.py": "a session's keys: fixed lengths",
    "speakup/keys/grants.py": "the case key in the reporter's grant: 32 bytes",
    "speakup/keys/account_keys.py": "private keys, signing key and TOTP seed: fixed lengths",
    "speakup/domain/files.py": "an attachment's bytes (its name goes through seal_text)",
    "speakup/domain/submissions.py": "a form's answer: reference, access code, status and dates, fixed lengths",
}


def _modules_sealing_raw_bytes() -> set[str]:
    root = Path(__file__).resolve().parents[2]
    found = set()
    for path in sorted((root / "speakup").rglob("*.py")):
        if path.parent.name == "crypto":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            raw_call = isinstance(node, ast.Attribute) and ast.unparse(node) == "sealing.seal"
            imported = isinstance(node, ast.ImportFrom) and any(alias.name == "seal" for alias in node.names)
            if raw_call or imported:
                found.add(str(path.relative_to(root)))
    return found


def test_only_fixed_length_secrets_and_file_bytes_are_sealed_without_padding() -> None:
    assert _modules_sealing_raw_bytes() == set(RAW_SEALS)
