"""Property tests (Hypothesis): the access-code format, the crypto round trips and the status machine
hold for any input, not just the examples elsewhere."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from speakup.crypto import access_codes, labels, sealing
from speakup.domain import workflow

CODE_CHARS = st.text(
    alphabet=access_codes.ALPHABET, min_size=access_codes.CODE_DATA_CHARS, max_size=access_codes.CODE_DATA_CHARS
)
STATUSES = st.sampled_from(list(workflow.REPORTER_LABELS))


def _code(data: str) -> str:
    return data + access_codes._check_character(data)


@given(CODE_CHARS, st.sampled_from(["", " ", "-", "  ", " - "]), st.booleans())
def test_any_code_survives_case_spaces_and_hyphens(data: str, separator: str, lower: bool):
    code = _code(data)
    typed = separator.join(code[i : i + 4] for i in range(0, len(code), 4))
    typed = typed.lower() if lower else typed
    assert access_codes.normalise_access_code(typed) == code


@given(
    CODE_CHARS, st.integers(min_value=0, max_value=access_codes.CODE_DATA_CHARS), st.sampled_from(access_codes.ALPHABET)
)
def test_any_single_character_typo_is_caught(data: str, position: int, replacement: str):
    code = _code(data)
    if code[position] == replacement:
        return
    typo = code[:position] + replacement + code[position + 1 :]
    try:
        access_codes.normalise_access_code(typo)
    except access_codes.InvalidAccessCode:
        return
    raise AssertionError("a one-character typo passed the check character")


@given(st.text(max_size=80))
def test_normalising_never_crashes_and_accepts_only_valid_codes(text: str):
    try:
        normalised = access_codes.normalise_access_code(text)
    except access_codes.InvalidAccessCode:
        return
    assert len(normalised) == access_codes.CODE_DATA_CHARS + 1
    assert access_codes._check_character(normalised[:-1]) == normalised[-1]


@settings(max_examples=50)
@given(
    st.binary(max_size=2000),
    st.integers(min_value=1, max_value=10**9),
    st.sampled_from([labels.CONCERN, labels.MESSAGE]),
)
def test_seal_round_trip_and_binding(plaintext: bytes, case_id: int, kind: str):
    key = sealing.new_case_key()
    aad = labels.associated_data(case_id, kind, case_id)
    blob = sealing.seal(key, plaintext, aad)
    assert sealing.open_sealed(key, blob, aad) == plaintext
    other = labels.associated_data(case_id + 1, kind, case_id)
    try:
        sealing.open_sealed(key, blob, other)
    except sealing.DecryptionError:
        return
    raise AssertionError("a ciphertext opened under another case's associated data")


@given(STATUSES, st.lists(STATUSES, max_size=12))
def test_walks_through_the_status_machine_only_take_allowed_steps(start: str, targets: list[str]):
    status = start
    for target in targets:
        if workflow.can_move(status, target):
            assert target in workflow.allowed_next(status)
            status = target
        else:
            assert target not in workflow.allowed_next(status)
    # Every status can always be closed or reopened towards work: nothing is a dead end.
    assert workflow.allowed_next(status)


@given(STATUSES)
def test_a_reply_only_ever_moves_a_waiting_case(status: str):
    after = workflow.status_after_reporter_reply(status)
    assert after == (workflow.IN_PROGRESS if status == workflow.AWAITING_REPORTER else status)
