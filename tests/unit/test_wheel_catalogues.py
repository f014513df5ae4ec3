"""The wheel carries the compiled catalogues (issue 28): a server installed from it has no .po files and no
pybabel, so every language's messages.mo (and the template, messages.pot, for a translator working from the wheel)
must be named in pyproject.toml's package-data; the deploy guide and the README build the wheel after compiling them."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WANTED = (
    "translations/cy/LC_MESSAGES/messages.mo",
    "translations/ur/LC_MESSAGES/messages.mo",
    "translations/messages.pot",
)


def _package_data() -> list[str]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)["tool"]["setuptools"]["package-data"]["speakup"]


def test_package_data_names_every_compiled_catalogue_and_the_template(tmp_path: Path) -> None:
    for name in (*WANTED, "translations/cy/LC_MESSAGES/messages.po"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    carried = {str(path.relative_to(tmp_path)) for pattern in _package_data() for path in tmp_path.glob(pattern)}
    assert set(WANTED) <= carried, f"not in the wheel: {set(WANTED) - carried}"


def test_the_wheel_is_built_after_the_catalogues_are_compiled() -> None:
    for guide in ("docs/deploy.md", "README.md"):
        text = (ROOT / guide).read_text()
        wheel = text.index("pip wheel")
        assert "make translations-compile" in text[:wheel], f"{guide}: the wheel is built before compiling"
    makefile = (ROOT / "Makefile").read_text()
    assert "translations-compile:" in makefile
