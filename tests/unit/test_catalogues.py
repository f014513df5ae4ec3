"""The shipped catalogues (issue 28): each is complete for its template (a reporter-side language's for reporter.pot,
the messages of the reporter's pages; any other's for messages.pot, every message), passes gettext's own
checks (placeholders kept, every plural form given), and says in its header whether a person has reviewed it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from speakup.platform.languages import KNOWN, template

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "speakup" / "translations"
SHIPPED = sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))
# In the comment at the top (docs/translating.md): `pybabel update` drops header fields it does not know.
REVIEW_STATE = re.compile(
    r"^# Review state: (draft: needs review by a qualified translator|reviewed by .+, .+, on \d{4}-\d{2}-\d{2})$",
    re.MULTILINE,
)


def _ids(path: Path) -> set[object]:
    with path.open("rb") as source:
        return {message.id for message in read_po(source) if message.id}


def test_welsh_is_shipped() -> None:
    assert TRANSLATIONS / "cy" / "LC_MESSAGES" / "messages.po" in SHIPPED


@pytest.mark.parametrize("catalogue", SHIPPED, ids=lambda path: path.parent.parent.name)
def test_a_catalogue_translates_every_message_and_passes_msgfmt(catalogue: Path) -> None:
    msgfmt = shutil.which("msgfmt")
    assert msgfmt, "gettext's msgfmt is needed (apt-get install gettext; make test installs it)"
    checked = subprocess.run([msgfmt, "--check", "--statistics", "-o", "/dev/null", str(catalogue)],
                             capture_output=True, text=True, check=False)  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert re.fullmatch(r"\d+ translated messages?\.\n", checked.stderr), checked.stderr  # no fuzzy, none untranslated
    assert _ids(catalogue) == _ids(TRANSLATIONS / template(catalogue.parent.parent.name)), "make translations-update"


def test_a_reporter_side_language_is_made_from_the_reporters_template() -> None:
    assert template("cy") == "messages.pot"
    assert {template(code) for code, language in KNOWN.items() if language.reporter_side} == {"reporter.pot"}
    assert template("eo") == "messages.pot"  # a language the service does not know: every message


@pytest.mark.parametrize("catalogue", SHIPPED, ids=lambda path: path.parent.parent.name)
def test_a_catalogue_says_whether_a_person_has_reviewed_it(catalogue: Path) -> None:
    comment = catalogue.read_text().split('msgid ""', 1)[0]
    assert REVIEW_STATE.search(comment), comment


REPORTER_SIDE = ("pl", "ro", "pt", "es", "hi", "ml", "fil", "ur")  # issue 28, point 4


def test_every_reporter_side_language_is_shipped() -> None:
    assert {path.parent.parent.name for path in SHIPPED} >= set(REPORTER_SIDE)
