"""Protocol speakup-v1 primitives: round trips, and loud failure on every kind of tampering."""

from __future__ import annotations

import math

import pytest

from speakup.crypto import access_codes, kem, labels, password_keys, sealing, totp

AAD = labels.concern(7)


def test_seal_round_trip_and_fresh_nonce():
    key = sealing.new_case_key()
    first = sealing.seal_text(key, "what happened", AAD)
    second = sealing.seal_text(key, "what happened", AAD)
    assert first != second  # a fresh nonce each time
    assert sealing.open_text(key, first, AAD) == "what happened"
    assert first[:1] == sealing.PADDED_VERSION_BYTE  # a text is padded (tests/unit/test_padding.py)


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_tampered_ciphertext_fails(position):
    key = sealing.new_case_key()
    blob = bytearray(sealing.seal_text(key, "text", AAD))
    blob[position] ^= 0x01
    with pytest.raises(sealing.DecryptionError):
        sealing.open_text(key, bytes(blob), AAD)


@pytest.mark.parametrize(
    "other_aad",
    [
        labels.associated_data(8, labels.CONCERN, 7),  # another case
        labels.identity(7),  # another field
        labels.associated_data(7, labels.CONCERN, 9),  # another record
    ],
)
def test_ciphertext_cannot_move_between_cases_or_fields(other_aad):
    key = sealing.new_case_key()
    blob = sealing.seal_text(key, "text", AAD)
    with pytest.raises(sealing.DecryptionError):
        sealing.open_text(key, blob, other_aad)


def test_wrong_key_fails():
    blob = sealing.seal_text(sealing.new_case_key(), "text", AAD)
    with pytest.raises(sealing.DecryptionError):
        sealing.open_text(sealing.new_case_key(), blob, AAD)


def test_truncated_ciphertext_fails():
    with pytest.raises(sealing.DecryptionError):
        sealing.open_text(sealing.new_case_key(), b"\x01short", AAD)


def test_hybrid_post_quantum_wrap_round_trip():
    pair = kem.generate_keypair()
    case_key = sealing.new_case_key()
    wrapped = kem.wrap_case_key(case_key, pair.public_bytes, 42)
    # ML-KEM-768 ciphertext (1088) + X25519 share (32) + sealed key (32 + 16) + version byte
    assert len(wrapped) == 1 + 1088 + 32 + 32 + 16
    assert kem.unwrap_case_key(wrapped, pair.private_bytes, 42) == case_key
    assert kem.public_key_of(pair.private_bytes) == pair.public_bytes


def test_wrapped_key_is_bound_to_its_case():
    pair = kem.generate_keypair()
    wrapped = kem.wrap_case_key(sealing.new_case_key(), pair.public_bytes, 42)
    with pytest.raises(sealing.DecryptionError):
        kem.unwrap_case_key(wrapped, pair.private_bytes, 43)


def test_wrapped_key_needs_the_right_private_key():
    pair, other = kem.generate_keypair(), kem.generate_keypair()
    wrapped = kem.wrap_case_key(sealing.new_case_key(), pair.public_bytes, 1)
    with pytest.raises(sealing.DecryptionError):
        kem.unwrap_case_key(wrapped, other.private_bytes, 1)


def test_tampered_wrapped_key_fails():
    pair = kem.generate_keypair()
    wrapped = bytearray(kem.wrap_case_key(sealing.new_case_key(), pair.public_bytes, 1))
    wrapped[-3] ^= 0x80
    with pytest.raises(sealing.DecryptionError):
        kem.unwrap_case_key(bytes(wrapped), pair.private_bytes, 1)


def test_password_key_is_deterministic_and_password_bound():
    params = password_keys.PasswordParams(memory_kib=64, iterations=1)
    salt = password_keys.new_salt()
    key = password_keys.password_key("a long passphrase", salt, params)
    assert key == password_keys.password_key("a long passphrase", salt, params)
    assert key != password_keys.password_key("a long passphrasf", salt, params)
    assert key != password_keys.password_key("a long passphrase", password_keys.new_salt(), params)
    assert len(key) == 32


# --- Access codes ---------------------------------------------------------------------------


def test_access_code_has_at_least_100_bits():
    assert access_codes.CODE_DATA_CHARS * math.log2(len(access_codes.ALPHABET)) >= 100
    code = access_codes.new_access_code()
    groups = code.split("-")
    assert all(len(g) == access_codes.CODE_GROUP for g in groups)
    assert len("".join(groups)) == access_codes.CODE_DATA_CHARS + 1
    assert not set("ILOU") & set(code)


def test_access_codes_are_unique():
    assert len({access_codes.new_access_code() for _ in range(500)}) == 500


def test_access_code_survives_case_spaces_and_hyphens():
    code = access_codes.new_access_code()
    normalised = access_codes.normalise_access_code(code)
    variants = [
        code.lower(),
        code.replace("-", " "),
        code.replace("-", ""),
        "  " + code.replace("-", " - ") + "\n",
        code.lower().replace("-", "  "),
    ]
    for variant in variants:
        assert access_codes.normalise_access_code(variant) == normalised


@pytest.mark.parametrize(
    "separator",
    [
        "\u2013",  # en dash, as word processors and phones turn a typed hyphen into
        "\u2014",  # em dash
        "\u2212",  # minus sign
        "\u2010",  # hyphen
        "\u2011",  # non-breaking hyphen
        "\uff0d",  # full-width hyphen-minus
        "\u00a0",  # no-break space
        "\u202f",  # narrow no-break space
        "\u2009",  # thin space
        "\u3000",  # ideographic space
        "\t",
        "\u200b",  # zero-width space, carried along by copy and paste
        "\u00ad",  # soft hyphen
        " \u2013 ",
    ],
)
def test_access_code_survives_every_dash_and_space(separator):
    code = access_codes.new_access_code()
    normalised = access_codes.normalise_access_code(code)
    typed = code.replace("-", separator)
    assert access_codes.normalise_access_code(typed) == normalised
    assert access_codes.normalise_access_code(typed.lower()) == normalised
    assert access_codes.normalise_access_code("\ufeff" + typed + "\u00a0\n") == normalised


def test_full_width_characters_read_as_plain_ones():
    code = access_codes.normalise_access_code(access_codes.new_access_code())
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code.lower())  # "ａｂ１" from some input methods
    assert access_codes.normalise_access_code(full_width) == code


@pytest.mark.parametrize("typed", ["", " ", "-", " \u2013\u2014\u2212 ", "\u00a0\u200b"])
def test_nothing_but_separators_is_an_empty_code(typed):
    with pytest.raises(access_codes.EmptyAccessCode):
        access_codes.normalise_access_code(typed)


def test_a_typing_mistake_is_not_an_empty_code():
    code = access_codes.normalise_access_code(access_codes.new_access_code())
    typo = code[:-1] + ("A" if code[-1] != "A" else "B")
    for wrong in (typo, code[:-1], code + "A", code.replace(code[0], ".", 1), "A" * 201):
        with pytest.raises(access_codes.InvalidAccessCode) as excinfo:
            access_codes.normalise_access_code(wrong)
        assert not isinstance(excinfo.value, access_codes.EmptyAccessCode)


def test_look_alike_letters_are_read_as_digits():
    code = access_codes.normalise_access_code(access_codes.new_access_code())
    if "0" in code or "1" in code:
        typed = code.replace("0", "o").replace("1", "l")
        assert access_codes.normalise_access_code(typed) == code
    data = "0" * (access_codes.CODE_DATA_CHARS - 1) + "1"
    full = data + access_codes._check_character(data)
    assert access_codes.normalise_access_code(full.replace("0", "O").replace("1", "I")) == full


def test_every_single_character_typo_is_caught():
    code = access_codes.normalise_access_code(access_codes.new_access_code())
    for position in range(len(code)):
        for char in access_codes.ALPHABET:
            if char == code[position]:
                continue
            typo = code[:position] + char + code[position + 1 :]
            with pytest.raises(access_codes.InvalidAccessCode):
                access_codes.normalise_access_code(typo)


def test_most_neighbour_swaps_are_caught():
    caught = total = 0
    for _ in range(50):
        code = access_codes.normalise_access_code(access_codes.new_access_code())
        for i in range(len(code) - 1):
            if code[i] == code[i + 1]:
                continue
            swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
            total += 1
            try:
                access_codes.normalise_access_code(swapped)
            except access_codes.InvalidAccessCode:
                caught += 1
    assert caught / total > 0.9


@pytest.mark.parametrize("bad", ["", "ABC", "U" * 24, "!" * 24, "A" * 40])
def test_malformed_codes_are_refused(bad):
    with pytest.raises(access_codes.InvalidAccessCode):
        access_codes.normalise_access_code(bad)


def test_lookup_id_depends_on_code_and_pepper():
    code = access_codes.normalise_access_code(access_codes.new_access_code())
    other = access_codes.normalise_access_code(access_codes.new_access_code())
    lookup = access_codes.access_code_lookup_id(b"pepper", code)
    assert lookup == access_codes.access_code_lookup_id(b"pepper", code)
    assert lookup != access_codes.access_code_lookup_id(b"other pepper", code)
    assert lookup != access_codes.access_code_lookup_id(b"pepper", other)
    assert code not in lookup


def test_access_code_key_depends_on_code_salt_and_case():
    code = access_codes.normalise_access_code(access_codes.new_access_code())
    salt = password_keys.new_salt()
    key = access_codes.access_code_key(code, salt, 1)
    assert key == access_codes.access_code_key(code, salt, 1)
    assert key != access_codes.access_code_key(code, password_keys.new_salt(), 1)
    assert key != access_codes.access_code_key(code, salt, 2)


# --- TOTP -----------------------------------------------------------------------------------


def test_totp_accepts_current_and_adjacent_steps_only():
    secret = totp.new_totp_secret()
    now = 1_800_000_000.0
    step = int(now) // totp.TOTP_STEP
    assert totp.totp_step_matching(secret, totp.totp_now(secret, now), now) == step
    assert totp.totp_step_matching(secret, totp.totp_now(secret, now - 30), now) == step - 1
    assert totp.totp_step_matching(secret, totp.totp_now(secret, now + 30), now) == step + 1
    assert totp.totp_step_matching(secret, totp.totp_now(secret, now - 120), now) is None
    assert totp.totp_step_matching(secret, "12345", now) is None
    assert totp.totp_step_matching(secret, "abcdef", now) is None


def test_totp_uri_carries_issuer_and_account():
    uri = totp.totp_uri(totp.new_totp_secret(), "g@example.org", "Speak Up")
    assert uri.startswith("otpauth://totp/") and "issuer=Speak" in uri and "secret=" in uri


def test_a_token_key_needs_the_server_pepper():
    """A stolen database alone cannot test guesses at an API client's Idempotency-Key: the pepper salts the key."""
    token = "client-0000000001"
    key = sealing.key_from_token(token, "api-submission", b"pepper-one" * 4)
    assert key == sealing.key_from_token(token, "api-submission", b"pepper-one" * 4)
    assert key != sealing.key_from_token(token, "api-submission", b"pepper-two" * 4)
    assert key != sealing.key_from_token(token, "form-submission", b"pepper-one" * 4)
