"""A message is marked for the catalogues (gettext_noop) in one way, speakup/crypto/catalogue.py's ``N_``: the lowest
layer, so crypto's password rules and the settings' shipped texts use it without Flask-Babel. `make translations`
extracts it under the names it is called by (``N_``, ``shipped_text`` in speakup/defaults.py)."""

from __future__ import annotations

import ast
from pathlib import Path

from speakup import defaults
from speakup.crypto import passwords
from speakup.crypto.catalogue import N_
from speakup.platform.translation import N_ as translation_mark

PACKAGE = Path(__file__).resolve().parents[2] / "speakup"
MARKS = {"N_", "shipped_text", "gettext_noop"}


def test_the_mark_leaves_the_message_as_it_is() -> None:
    assert N_("Your message") == "Your message"
    assert passwords.N_ is N_  # type: ignore[attr-defined]
    assert translation_mark is N_ and defaults.shipped_text is N_


def test_no_module_but_its_home_makes_a_mark_of_its_own() -> None:
    made = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name in MARKS:
                made.append(f"{path.relative_to(PACKAGE)}: def {node.name}")
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [target.id for target in targets if isinstance(target, ast.Name)]
                made += [f"{path.relative_to(PACKAGE)}: {name} =" for name in names if name in MARKS]
    assert made == ["crypto/catalogue.py: def N_"]


def test_the_shipped_text_mark_is_no_setting() -> None:
    assert not [name for name in vars(defaults) if name.isupper() and callable(getattr(defaults, name))]
