"""A command run with settings the app refuses says so in one line and exits 2, never with a traceback. Production is
the default, so a developer who forgets SPEAKUP_ENVIRONMENT meets the production refusal: it tells them both ways
out (speakup/cli/__init__.py, settings_refused). Real processes, because the refusal happens while Flask's command
line loads the app, before any command of ours runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.thorough  # a new Python process for each test

ROOT = Path(__file__).resolve().parents[2]


def run_command(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SPEAKUP_", "FLASK_"))}
    # A development instance would otherwise make its secrets in the repository's instance/ folder.
    env.update({"SPEAKUP_INSTANCE_PATH": str(tmp_path / "instance"), **settings})
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "speakup", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line_refusal(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert result.stdout == ""
    return lines[0]


def test_without_an_environment_a_command_names_the_secrets_and_the_development_setting(tmp_path: Path) -> None:
    line = assert_one_line_refusal(run_command(tmp_path, "sessions", "purge"))
    assert "SPEAKUP_SECRET_KEY and SPEAKUP_TOKEN_PEPPER must be set in production" in line
    assert "set SPEAKUP_ENVIRONMENT=development" in line


def test_a_production_command_names_only_the_missing_secret(tmp_path: Path) -> None:
    result = run_command(tmp_path, "sessions", "purge", SPEAKUP_ENVIRONMENT="production", SPEAKUP_SECRET_KEY="k" * 40)
    line = assert_one_line_refusal(result)
    assert "SPEAKUP_TOKEN_PEPPER must be set in production" in line
    assert "SPEAKUP_SECRET_KEY" not in line and "development" not in line  # production was asked for by name


def test_an_unknown_environment_is_named(tmp_path: Path) -> None:
    line = assert_one_line_refusal(run_command(tmp_path, "sessions", "purge", SPEAKUP_ENVIRONMENT="staging"))
    assert "SPEAKUP_ENVIRONMENT must be production, development or testing" in line


def test_the_advice_works_a_development_instance_loads(tmp_path: Path) -> None:
    result = run_command(tmp_path, "sessions", "--help", SPEAKUP_ENVIRONMENT="development")
    assert result.returncode == 0, result.stderr
    assert "purge" in result.stdout


def test_outside_a_command_the_refusal_is_still_the_exception(tmp_path: Path) -> None:
    """gunicorn, scripts and tests create the app outside any command: they keep the ConfigurationError."""
    script = "from speakup import create_app\ncreate_app()\n"
    env = {key: value for key, value in os.environ.items() if not key.startswith("SPEAKUP_")}
    env["SPEAKUP_INSTANCE_PATH"] = str(tmp_path / "instance")
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert "speakup.settings.ConfigurationError: SPEAKUP_SECRET_KEY and SPEAKUP_TOKEN_PEPPER" in result.stderr


def test_the_speakup_command_refuses_the_same_way(tmp_path: Path) -> None:
    if not (ROOT / "speakup" / "__main__.py").exists():
        pytest.skip("this checkout has no `speakup` command (speakup/__main__.py)")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SPEAKUP_", "FLASK_"))}
    env["SPEAKUP_INSTANCE_PATH"] = str(tmp_path / "instance")
    command = [sys.executable, "-m", "speakup", "sessions", "purge"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    line = assert_one_line_refusal(result)
    assert "set SPEAKUP_ENVIRONMENT=development" in line
