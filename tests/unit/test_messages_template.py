"""speakup/translations/messages.pot holds every string marked for translation, as `make translations` extracts it
(issue 28): a string added to a page or a message without the template brought up to date fails here, so no
catalogue can miss it. So does speakup/translations/reporter.pot, the messages of the reporter's pages only
(babel-reporter.cfg), which a reporter-side language translates. The extraction's options are read from the
Makefile, so the test and `make translations` cannot drift apart. (That reporter.pot holds every message the
reporter's pages show: tests/web/test_pseudo_locale.py, their tour in a catalogue made from it alone.)"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ("speakup/translations/messages.pot", "speakup/translations/reporter.pot")


def _extract_arguments(template: str) -> list[str]:
    """The Makefile's `pybabel extract` arguments for ``template`` (its `-o` left out: the test writes its own)."""
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    for line in re.findall(r"\$\(BIN\)/pybabel (extract .*)", makefile):
        arguments = shlex.split(line)
        output = arguments.index("-o")
        if arguments[output + 1] == template:
            return arguments[:output] + arguments[output + 2 :]
    raise AssertionError(f"the Makefile's translations target extracts no {template}")


def _messages(path: Path) -> set[tuple[object, object]]:
    with path.open("rb") as file:
        return {(message.context, message.id) for message in read_po(file) if message.id}


@pytest.mark.parametrize("template", TEMPLATES)
def test_the_template_holds_every_marked_string(template: str, tmp_path: Path, monkeypatch) -> None:
    fresh = tmp_path / "fresh.pot"
    monkeypatch.chdir(ROOT)
    CommandLineInterface().run(["pybabel", "--quiet", *_extract_arguments(template), "-o", str(fresh)])
    extracted, committed = _messages(fresh), _messages(ROOT / template)
    missing, stale = extracted - committed, committed - extracted
    lines = [f"  + {message!r}" for _context, message in sorted(missing, key=str)[:40]]
    lines += [f"  - {message!r}" for _context, message in sorted(stale, key=str)[:40]]
    shown = "\n".join(lines)
    assert not missing and not stale, (
        f"{template} is out of date ({len(missing)} strings missing, {len(stale)} no longer "
        f"used): run `make translations` and commit it, then `make translations-update`.\n{shown}"
    )


def test_the_reporters_template_is_part_of_the_whole() -> None:
    """Every message of reporter.pot is in messages.pot (a reporter's page is a page of the service), and fewer."""
    reporter, whole = _messages(ROOT / TEMPLATES[1]), _messages(ROOT / TEMPLATES[0])
    assert reporter < whole, sorted(map(str, reporter - whole))[:20]
