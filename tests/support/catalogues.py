"""Gettext catalogues made for a test: a language the service does not ship, installed in a folder of the test's
own (SPEAKUP_BABEL_TRANSLATION_DIRECTORIES takes several, separated by ";")."""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo


def install_catalogue(folder: Path, code: str, messages: dict[str, str]) -> Path:
    """A compiled catalogue for ``code`` under ``folder`` translating each msgid to its value; returns ``folder``."""
    catalog = Catalog(locale=code)
    for msgid, msgstr in messages.items():
        catalog.add(msgid, msgstr)
    where = folder / code / "LC_MESSAGES"
    where.mkdir(parents=True, exist_ok=True)
    with (where / "messages.mo").open("wb") as out:
        write_mo(out, catalog)
    return folder


def directories_with(folder: Path) -> str:
    """The setting's value: the service's own catalogues, then the test's."""
    return f"translations;{folder}"
