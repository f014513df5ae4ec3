"""docs/architecture.md names every module of speakup/, so a newcomer can find where a thing lives from one page."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "speakup"
DOC = ROOT / "docs" / "architecture.md"


def test_every_module_is_named_in_the_architecture_document() -> None:
    text = DOC.read_text()
    # Alembic writes the revisions; they are the schema's history, described as one folder.
    versions = PACKAGE / "migrations" / "versions"
    modules = [path.relative_to(ROOT).as_posix() for path in PACKAGE.rglob("*.py") if versions not in path.parents]
    assert modules
    missing = sorted(module for module in modules if f"`{module}`" not in text)
    assert missing == []


def test_every_module_the_document_names_exists() -> None:
    """A module moved or removed is taken out of the document too, so it never sends a reader to nothing."""
    text = DOC.read_text()
    named = {part.split("`")[0] for part in text.split("`speakup/")[1:]}
    stale = sorted(f"speakup/{name}" for name in named if name.endswith(".py") and not (PACKAGE / name).exists())
    assert stale == []
