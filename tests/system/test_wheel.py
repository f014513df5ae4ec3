"""A real package: the wheel built from this repository, installed into a fresh virtual
environment with nothing else, is enough to run Speak Up: `speakup init` makes the installation, gunicorn serves it
from the installed package, and the pages are styled from files inside the wheel (no Node on a server). No test
tool comes with it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest
from support.processes import free_port, production_env, stop_process
from support.servers import wait_healthy

ROOT = Path(__file__).resolve().parents[2]
TEST_TOOLS = ("pytest", "playwright", "schemathesis", "ruff", "hypothesis")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from a clean copy of the tracked files plus the built pages' files, as a release would be."""
    assert (ROOT / "speakup" / "static" / "manifest.json").exists(), "build the pages' files first: npm run build"
    source = tmp_path_factory.mktemp("source") / "speakup-src"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "speakup" / "static" / "build", source / "speakup" / "static" / "build")
    shutil.copy2(ROOT / "speakup" / "static" / "manifest.json", source / "speakup" / "static" / "manifest.json")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(source)],
        check=True,
        timeout=300,
    )
    (built,) = out.glob("speakup-*.whl")
    return built


def test_the_wheel_carries_what_a_server_needs_and_nothing_of_the_tests(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "speakup/static/manifest.json",
        "speakup/templates/base.html",
        "speakup/migrations/env.py",
        "speakup/migrations/alembic.ini",
        "speakup/migrations/versions/0001_initial_schema.py",
        "speakup/defaults.py",
        "speakup/wsgi.py",
    ):
        assert needed in names, needed
    built = json.loads((ROOT / "speakup" / "static" / "manifest.json").read_text()).values()
    for name in built:  # each file and its compressed copies: the server compresses nothing itself
        for suffix in ("", ".gz", ".br"):
            assert f"speakup/static/build/{name}{suffix}" in names, name + suffix
    assert not [n for n in names if n.startswith(("tests/", "bench/", "config/")) or "__pycache__" in n]
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    requires = [
        line for line in zipfile.ZipFile(wheel).read(metadata).decode().splitlines() if line.startswith("Requires-Dist")
    ]
    runtime = [line for line in requires if "extra ==" not in line]
    assert not [line for line in runtime if any(tool in line.lower() for tool in TEST_TOOLS)]
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "speakup = speakup.__main__:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_from_the_wheel_it_initialises_and_serves_styled_pages(wheel: Path, tmp_path: Path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-c", str(ROOT / "constraints.txt")]
    subprocess.run([*pip, str(wheel)], check=True, timeout=600)
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True
    ).stdout.lower()
    assert "speakup==" in installed and not [tool for tool in TEST_TOOLS if f"\n{tool}==" in "\n" + installed]

    home = tmp_path / "server"  # not the repository: everything must come from the installed package
    home.mkdir()
    env = production_env(
        f"sqlite:///{home / 'speakup.sqlite'}",
        INSTANCE_PATH=str(home / "instance"),
        ARGON2_MEMORY_KIB="1024",
        ARGON2_ITERATIONS="1",
    )
    env.pop("PYTHONPATH", None)
    init = subprocess.run(
        [str(venv / "bin" / "speakup"), "init", "--recovery-key-file", str(home / "recovery-key.txt")],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    root = re.search(r"^roster-root: ([0-9a-f-]+)$", init.stdout, re.MULTILINE)
    assert root, init.stdout
    env["SPEAKUP_ROSTER_ROOT"] = root.group(1)

    port = free_port()
    output = home / "gunicorn.log"
    with output.open("w") as log:
        server = subprocess.Popen(
            [
                *(str(venv / "bin" / "gunicorn"), "-c", "python:speakup.gunicorn_conf"),
                *("--bind", f"127.0.0.1:{port}", "--workers", "1", "speakup.wsgi:app"),
            ],
            cwd=home,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, server, output)
        page = _get(base + "/raise")
        assert "What happened?" in page
        stylesheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)
        assert stylesheets, "no stylesheet on the page"
        css = "".join(_get(base + href) for href in stylesheets)
        assert ".nhsuk-header" in css and ".speakup-access-code" in css
        (script,) = re.findall(r'<script defer src="([^"]+)"', page)
        assert "nhsuk-frontend-supported" in _get(base + script)
        (icon,) = re.findall(r'<link rel="icon" href="([^"]+)"', page)
        assert _get(base + icon).startswith("<svg")
    finally:
        stop_process(server)
    # The packaged gunicorn settings were used: the access log is the app's JSON lines, with no client address.
    access = [line for line in output.read_text().splitlines() if '"logger": "gunicorn.access"' in line]
    assert access and not [line for line in access if "127.0.0.1" in line]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (http on the loopback only)
        assert response.status == 200, url
        return response.read().decode()
