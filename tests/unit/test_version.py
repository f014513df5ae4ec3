"""The version is written once, in pyproject.toml: the installed package and `speakup --version` say the same, and
the changelog has a section for it (issue 27, point 5)."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from speakup.__main__ import main

ROOT = Path(__file__).resolve().parents[2]


def _written() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def test_speakup_version_prints_the_one_in_pyproject(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"Speak Up {_written()}"
    assert importlib.metadata.version("speakup") == _written()  # installed from this tree, not an older one


def test_the_changelog_has_a_section_for_the_version():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## .*\b{re.escape(_written())}\b", changelog, re.M)


def _release_tags() -> list[str]:
    """The clone's `v*` tags (none in a clone made before the first release, or outside a git checkout)."""
    if not (ROOT / ".git").exists():
        return []
    listed = subprocess.run(["git", "tag", "--list", "v*"], cwd=ROOT, capture_output=True, text=True, check=True)
    return listed.stdout.split()


def test_every_release_tag_names_a_version_the_changelog_describes():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## .*?\b(\d+\.\d+\.\d+)\b", changelog, re.M)
    for tag in _release_tags():
        assert re.fullmatch(r"v\d+\.\d+\.\d+", tag), f"{tag} is not vX.Y.Z"
        assert tag.removeprefix("v") in headings, f"{tag} has no section in CHANGELOG.md"


def test_the_guide_says_how_to_find_the_release_tag():
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert "git tag --list 'v*' --sort=-v:refname" in guide
    assert "git checkout RELEASE_TAG" in guide
