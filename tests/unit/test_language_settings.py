"""The settings ``LANGUAGES`` and ``DEFAULT_LANGUAGE`` read in one place (speakup/platform/languages.py): a list, or
codes separated by commas; an unset default is Welsh under the Welsh rules when Welsh is listed (issue 29), else
English when listed, else the first listed."""

from __future__ import annotations

import pytest

from speakup.platform.languages import default_code, listed


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ("en, cy", ["en", "cy"]),
        (" cy ,,en ,", ["cy", "en"]),
        ("", []),
        (["en", "cy"], ["en", "cy"]),
        (("eo",), ["eo"]),
        (None, None),
        (5, None),
    ],
)
def test_languages_is_a_list_or_codes_separated_by_commas(codes: object, expected: list[str] | None) -> None:
    assert listed(codes) == expected


@pytest.mark.parametrize(
    ("codes", "chosen", "rules", "expected"),
    [
        ("en, cy", "", "wales", "cy"),
        (["en", "cy"], None, "wales", "cy"),
        (["en", "cy"], "en", "wales", "en"),  # the trust chose
        (["en"], "", "wales", "en"),  # Welsh not listed: not the default either
        (["en", "cy"], "", "england", "en"),
        (["eo", "pl"], "", "england", "eo"),  # no English: the first listed
        (["eo", "en"], "", "england", "en"),
        ([], "", "england", "en"),
        (["en"], "cy", "england", "cy"),  # kept as set, for offered() to refuse
    ],
)
def test_an_unset_default_language_follows_the_rules(codes: object, chosen: object, rules: str, expected: str) -> None:
    assert default_code(codes, chosen, rules) == expected
