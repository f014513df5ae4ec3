"""Every address that leaves a request is built by speakup/platform/public_urls.py from PUBLIC_BASE_URL."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from speakup.platform.public_urls import public_url

PACKAGE = Path(__file__).resolve().parents[2] / "speakup"


@pytest.mark.parametrize("base", ["https://speakup.example.nhs.uk", "https://speakup.example.nhs.uk/"])
def test_a_public_url_joins_the_base_and_the_path_once(base: str) -> None:
    app = Flask(__name__)
    app.config["PUBLIC_BASE_URL"] = base
    with app.app_context():
        assert public_url("/guardian/") == "https://speakup.example.nhs.uk/guardian/"
        assert public_url("/enrol", token="abc_-9") == "https://speakup.example.nhs.uk/enrol?token=abc_-9"


def test_no_other_module_reads_the_public_base_url() -> None:
    readers = {
        str(path.relative_to(PACKAGE.parent)) for path in PACKAGE.rglob("*.py") if "PUBLIC_BASE_URL" in path.read_text()
    }
    assert readers == {"speakup/platform/public_urls.py", "speakup/defaults.py"}
