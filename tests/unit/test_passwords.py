"""The password policy (NIST SP 800-63B): length in code points, no composition rules, nothing easy to guess."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from speakup.crypto import passwords
from speakup.crypto.passwords import MAX_LENGTH, MIN_LENGTH, password_problem

EMAIL = "fsu.lead@example.org"
NAME = "Gita Guardian"

ACCEPTED = [
    # Passphrases the rest of the suite and the demo rely on.
    pytest.param("correct horse battery staple", "guardian@example.org", "Gita Guardian", id="conftest-password"),
    pytest.param("a sufficiently long password", "admin@example.org", "Ada Admin", id="cli-password"),
    pytest.param("another long password", "admin@example.org", "Ada Admin", id="cli-second-password"),
    pytest.param("demo guardian password", "guardian@example.org", "Demo Guardian", id="demo-password"),
    # Exactly the minimum, and exactly the maximum.
    pytest.param("mvxq plrt zk", EMAIL, NAME, id="exactly-12"),
    pytest.param("tide pool ember " * 16, EMAIL, NAME, id="exactly-256"),
    # No composition rules: all lower case, no digits, no symbols.
    pytest.param("mvxqplrtzkwhjnbd", EMAIL, NAME, id="16-lowercase-letters"),
    pytest.param("purple elephants dance quietly", EMAIL, NAME, id="lowercase-phrase"),
    pytest.param("9382 1746 5092 3817", EMAIL, NAME, id="digits-and-spaces"),
    # Unicode passphrases.
    pytest.param("Das ist mein geheimes Wörtchen", EMAIL, NAME, id="german"),
    pytest.param("пароль для моего ящика тут", EMAIL, NAME, id="russian"),
    pytest.param("我的密码是一只快乐的小猫咪", EMAIL, NAME, id="chinese-13-code-points"),
    pytest.param("café crème brûlée au soleil", EMAIL, NAME, id="accents"),
    pytest.param("🌧️ rain on the tin roof 🌧️", EMAIL, NAME, id="emoji"),
    # Containing a name or email local part is fine when plenty of the person's own words surround it.
    pytest.param("guardian of the night garden", EMAIL, NAME, id="name-part-among-words"),
    pytest.param("compatible passphrase", EMAIL, "Pat Smith", id="short-name-inside-word"),
    pytest.param("Gita loves xk29qm7wb", EMAIL, NAME, id="name-part-plus-random"),
    # A common word with plenty added is not "a common password with a few characters added".
    pytest.param("monkey 8472 9381 2745", EMAIL, NAME, id="common-word-plus-12-digits"),
    pytest.param("not the password at all", EMAIL, NAME, id="common-word-in-phrase"),
    # Ordinary words with short runs of letters ("def", "rst", "stu", "wer") are not sequences.
    pytest.param("the first study of power defends", EMAIL, NAME, id="words-with-short-runs"),
    pytest.param("Tr0ub4dor&3xyz", EMAIL, NAME, id="mixed-with-short-run"),
    pytest.param("we stop; no hide; ghost fed", EMAIL, NAME, id="many-two-letter-runs"),
    # The service's words apart from each other are fine.
    pytest.param("speak softly, then wind up", EMAIL, NAME, id="speak-and-up-apart"),
]


@pytest.mark.parametrize(("password", "email", "name"), ACCEPTED)
def test_accepted(password: str, email: str, name: str) -> None:
    assert password_problem(password, email=email, name=name) is None


REJECTED = [
    # Length, in code points after NFKC normalisation.
    pytest.param("", passwords.TOO_SHORT, id="empty"),
    pytest.param("elevenchars", passwords.TOO_SHORT, id="11-chars"),
    pytest.param("我的密码是一只快乐的小", passwords.TOO_SHORT, id="chinese-11-code-points"),
    pytest.param("e\u0301" * 6 + "xk9qz", passwords.TOO_SHORT, id="combining-accents-compose-to-11"),
    pytest.param("tide pool ember " * 16 + "x", passwords.TOO_LONG, id="257-chars"),
    pytest.param("x" * 10_000, passwords.TOO_LONG, id="huge"),
    # The email address, and passwords based on its local part.
    pytest.param("my email is fsu.lead@example.org", passwords.CONTAINS_EMAIL, id="contains-email"),
    pytest.param("FSU.LEAD@EXAMPLE.ORG!", passwords.CONTAINS_EMAIL, id="email-upper-case"),
    pytest.param("fsu lead example org", passwords.CONTAINS_EMAIL, id="email-with-spaces"),
    pytest.param("fsu.lead fsu.lead", passwords.BASED_ON_EMAIL, id="local-part"),
    pytest.param("FsuLead2024!!", passwords.BASED_ON_EMAIL, id="local-part-plus-year"),
    # The person's name, its parts, and its parts with a date or a few characters.
    pytest.param("Gita Guardian!", passwords.BASED_ON_NAME, id="name"),
    pytest.param("GitaGuardian19900101", passwords.BASED_ON_NAME, id="name-plus-date"),
    pytest.param("guardian-gita-1990", passwords.BASED_ON_NAME, id="name-parts-reordered"),
    pytest.param("GitaGuardian rocks", passwords.BASED_ON_NAME, id="name-plus-short-word"),
    pytest.param("gita gita gita gita", passwords.BASED_ON_NAME, id="first-name-repeated"),
    # The service's name, whatever the case and spacing.
    pytest.param("I will speak up about it", passwords.CONTAINS_SERVICE, id="service-in-phrase"),
    pytest.param("SpeakUp2024!!", passwords.CONTAINS_SERVICE, id="service-camel-case"),
    pytest.param("S p e a k U p now!", passwords.CONTAINS_SERVICE, id="service-spaced"),
    pytest.param("speak-up-speak-up", passwords.CONTAINS_SERVICE, id="service-hyphenated"),
    # One character, or a short piece, repeated.
    pytest.param("aaaaaaaaaaaa", passwords.REPETITIVE, id="one-character"),
    pytest.param("aaaaaaaaaaab", passwords.REPETITIVE, id="mostly-one-character"),
    pytest.param("            ", passwords.REPETITIVE, id="spaces"),
    pytest.param("abcabcabcabc", passwords.REPETITIVE, id="abc-repeated"),
    pytest.param("121212121212", passwords.REPETITIVE, id="12-repeated"),
    pytest.param("xyzzyxyzzyxyzzy", passwords.REPETITIVE, id="5-char-unit"),
    pytest.param("Abc1Abc1Abc1", passwords.REPETITIVE, id="4-char-unit-mixed-case"),
    pytest.param("k9#mq2k9#mq2k", passwords.REPETITIVE, id="6-char-unit-partial-repeat"),
    pytest.param("xxyyzzwwxxzzyyww", passwords.REPETITIVE, id="four-characters-in-a-longer-pattern"),
    pytest.param("abcabcabcabc2024!", passwords.REPETITIVE, id="repeated-then-year"),
    pytest.param("é" * 12, passwords.REPETITIVE, id="unicode-repeated"),
    # Simple runs of digits, letters or keyboard keys, either way round.
    pytest.param("123456789012", passwords.SEQUENCE, id="digits"),
    pytest.param("abcdefghijkl", passwords.SEQUENCE, id="alphabet"),
    pytest.param("qwertyuiopas", passwords.SEQUENCE, id="keyboard"),
    pytest.param("lkjhgfdsapoiu", passwords.SEQUENCE, id="keyboard-backwards"),
    pytest.param("zyxwvutsrqpo", passwords.SEQUENCE, id="alphabet-backwards"),
    pytest.param("abcd-efgh-ijkl", passwords.SEQUENCE, id="alphabet-with-dashes"),
    pytest.param("ABCDEF123456", passwords.SEQUENCE, id="two-runs"),
    pytest.param("!@#$%^&*()!@", passwords.SEQUENCE, id="shifted-digits"),
    # Common passwords, compared case-insensitively and after NFKC normalisation.
    pytest.param("international", passwords.COMMON, id="common"),
    pytest.param("InterNational", passwords.COMMON, id="common-mixed-case"),
    pytest.param("1qaz2wsx3edc", passwords.COMMON, id="common-keyboard-pattern"),
    pytest.param("ｐａｓｓｗｏｒｄ１２３４５６", passwords.COMMON, id="common-fullwidth"),
    # A common password with a few characters added.
    pytest.param("Password1234!", passwords.COMMON_VARIANT, id="password-digits-symbol"),
    pytest.param("iloveyou2024", passwords.COMMON_VARIANT, id="trailing-year"),
    pytest.param("1234iloveyou", passwords.COMMON_VARIANT, id="leading-digits"),
    pytest.param("p.a.s.s.w.o.r.d.12", passwords.COMMON_VARIANT, id="letters-split-by-dots"),
    pytest.param("password123456789", passwords.COMMON_VARIANT, id="plus-a-sequence"),
    pytest.param("Sunshine!!!!!", passwords.COMMON_VARIANT, id="trailing-punctuation"),
    pytest.param("password1!!!", passwords.COMMON_VARIANT, id="common-entry-with-digit-then-symbols"),
    pytest.param("000webhost!!", passwords.COMMON_VARIANT, id="common-entry-with-leading-digits-then-symbols"),
    pytest.param("1200Nerds2024", passwords.COMMON_VARIANT, id="common-entry-with-digits-then-year"),
]


@pytest.mark.parametrize(("password", "message"), REJECTED)
def test_rejected_with_the_message_for_the_rule(password: str, message: str) -> None:
    assert password_problem(password, email=EMAIL, name=NAME) == message


def _reject_passwords() -> list[str]:
    return [str(case.values[0]) for case in REJECTED if case.values[0]]


@pytest.mark.parametrize("password", _reject_passwords())
def test_messages_never_contain_the_password(password: str) -> None:
    message = password_problem(password, email=EMAIL, name=NAME)
    assert message is not None
    assert password not in message
    if password.strip():
        assert password.casefold().strip() not in message.casefold()


def test_messages_are_plain_sentences() -> None:
    messages = {password_problem(password, email=EMAIL, name=NAME) for password in _reject_passwords()}
    every_message = {
        passwords.TOO_SHORT,
        passwords.TOO_LONG,
        passwords.CONTAINS_EMAIL,
        passwords.BASED_ON_EMAIL,
        passwords.BASED_ON_NAME,
        passwords.CONTAINS_SERVICE,
        passwords.REPETITIVE,
        passwords.SEQUENCE,
        passwords.COMMON,
        passwords.COMMON_VARIANT,
    }
    assert messages == every_message  # every rule is exercised above
    assert len(every_message) == 10  # and each says something different
    for message in every_message:
        assert message[0].isupper()
        assert not message.endswith((".", " "))
    assert passwords.TOO_SHORT == "Your password must be at least 12 characters"
    assert passwords.COMMON == "Choose a password that is harder to guess: this one is in a list of common passwords"
    assert passwords.CONTAINS_EMAIL == "Your password must not contain your email address"
    assert passwords.CONTAINS_SERVICE == "Your password must not contain the name of the service"


def test_limits() -> None:
    assert (MIN_LENGTH, MAX_LENGTH) == (12, 256)
    random_ish = "mvxqplrtzkwhjnbdgcfs"
    assert password_problem(random_ish[: MIN_LENGTH - 1]) == passwords.TOO_SHORT
    assert password_problem(random_ish[:MIN_LENGTH]) is None


def test_length_counts_code_points_after_nfkc() -> None:
    decomposed = "cafe\u0301 cre\u0300me x"  # 14 code points as typed, 12 after NFKC composes é and è
    assert len(decomposed) == 14
    assert password_problem(decomposed) is None
    assert password_problem(decomposed[:-1]) == passwords.TOO_SHORT
    ligatures = "\ufb01" * 4 + "xk9qzw"  # each "ﬁ" ligature becomes "fi": 10 code points as typed, 14 after
    assert password_problem(ligatures) is None


def test_email_and_name_are_optional_and_checked_only_when_given() -> None:
    assert password_problem("Gita Guardian!") is None
    assert password_problem("Gita Guardian!", name="  ") is None
    assert password_problem("Gita Guardian!", name=NAME) == passwords.BASED_ON_NAME
    assert password_problem("FsuLead2024!!") is None
    assert password_problem("FsuLead2024!!", email=EMAIL) == passwords.BASED_ON_EMAIL


def test_name_comparison_ignores_case_and_unicode_form() -> None:
    assert password_problem("SIÂN JONES 2024", name="Siân Jones") == passwords.BASED_ON_NAME
    assert password_problem("sia\u0302n jones 2024", name="Siân Jones") == passwords.BASED_ON_NAME


def test_common_list_is_djangos_and_loaded_once() -> None:
    common = passwords.common_passwords()
    assert isinstance(common, frozenset)
    assert passwords.common_passwords() is common
    assert 19_000 < len(common) <= 20_000
    assert {"password", "iloveyou", "qwerty", "international"} <= common
    assert all(entry == entry.casefold() for entry in common)


def test_data_file_is_the_gzipped_list_with_its_provenance() -> None:
    data = Path(passwords.__file__).parent / "data"
    with gzip.open(data / "common-passwords.txt.gz", "rt", encoding="utf-8") as lines:
        assert sum(1 for _ in lines) == len(passwords.common_passwords())
    readme = (data / "README.md").read_text(encoding="utf-8")
    assert "BSD-3-Clause" in readme
    assert "Copyright (c) Django Software Foundation and individual contributors." in readme


def test_each_message_carries_what_a_translation_needs_without_flask() -> None:
    # The web layer translates gettext(msgid, **values); English is that message with its values put in.
    assert passwords.TOO_SHORT.msgid == "Your password must be at least %(min_length)d characters"
    assert passwords.TOO_SHORT.values == {"min_length": MIN_LENGTH}
    assert passwords.TOO_LONG.msgid % passwords.TOO_LONG.values == passwords.TOO_LONG
    problem = password_problem("international", email=EMAIL, name=NAME)
    assert problem is not None and (problem.msgid, problem.values) == (passwords.COMMON, {})
