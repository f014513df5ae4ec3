"""speakup/translations/messages.pot holds every string marked for translation, as `make translations` extracts it
(issue 28): a string added to a page or a message without the template brought up to date fails here, so no
catalogue can miss it. The extraction's options are read from the Makefile, so the test and `make translations`
cannot drift apart."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "speakup" / "translations" / "messages.pot"


def _extract_arguments() -> list[str]:
    """The Makefile's `pybabel extract` arguments (its `-o` left out: the test writes its own file)."""
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    line = re.search(r"\$\(BIN\)/pybabel (extract .*)", makefile)
    assert line, "the Makefile's translations target runs no pybabel extract"
    arguments = shlex.split(line.group(1))
    output = arguments.index("-o")
    return arguments[:output] + arguments[output + 2 :]


def _messages(path: Path) -> set[tuple[object, object]]:
    with path.open("rb") as file:
        return {(message.context, message.id) for message in read_po(file) if message.id}


def test_the_template_holds_every_marked_string(tmp_path: Path, monkeypatch) -> None:
    fresh = tmp_path / "messages.pot"
    monkeypatch.chdir(ROOT)
    CommandLineInterface().run(["pybabel", "--quiet", *_extract_arguments(), "-o", str(fresh)])
    extracted, committed = _messages(fresh), _messages(TEMPLATE)
    missing, stale = extracted - committed, committed - extracted
    lines = [f"  + {message!r}" for _context, message in sorted(missing, key=str)[:40]]
    lines += [f"  - {message!r}" for _context, message in sorted(stale, key=str)[:40]]
    shown = "\n".join(lines)
    assert not missing and not stale, (
        f"speakup/translations/messages.pot is out of date ({len(missing)} strings missing, {len(stale)} no longer "
        f"used): run `make translations` and commit it, then `make translations-update`.\n{shown}"
    )
