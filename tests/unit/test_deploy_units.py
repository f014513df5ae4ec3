"""deploy/systemd/: units systemd 252 (Debian 12) loads without a complaint, confined alike, and running only commands
the app has.

`systemd-analyze verify` says nothing about a misspelt directive but a warning on standard error (its exit status
stays 0), and fails a unit whose program is missing. So every line it prints counts as a failure, and the units are
verified under a root of their own: systemd's units, stand-ins for the two programs docs/deploy.md installs into
/opt/speakup/venv, and stand-ins for any other program the units name that this machine has. A misspelt directive
or program path therefore fails, and test_the_checks_catch_a_misspelt_directive_a_missing_program_and_no_sandbox
proves it. Without systemd-analyze those tests are skipped; the rest read the files themselves."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
SYSTEMD_ANALYZE = Path("/usr/bin/systemd-analyze")
SYSTEM_UNITS = Path("/usr/lib/systemd/system")
VENV_BIN = "/opt/speakup/venv/bin/"
INSTALLED_PROGRAMS = {VENV_BIN + "flask", VENV_BIN + "gunicorn"}  # what pip puts there (docs/deploy.md, step 4)
FLASK_PREFIX = ["--app", "wsgi", "speakup"]
# systemd's exposure score, in tenths (its --threshold unit): 2.0 is still "OK"; an unconfined service scores 9.6.
EXPOSURE_THRESHOLD = 20

needs_systemd_analyze = pytest.mark.skipif(
    not (SYSTEMD_ANALYZE.exists() and SYSTEM_UNITS.is_dir()), reason="systemd-analyze is not installed here"
)

# What each unit does for itself; everything else in [Service] is the shared user, settings and confinement.
OWN_SETTINGS = {
    "Type",
    "NotifyAccess",
    "ExecStart",
    "ExecReload",
    "KillMode",
    "TimeoutStartSec",
    "TimeoutStopSec",
    "Restart",
    "RestartSec",
    "SyslogIdentifier",
}
# What every unit must meet: who it runs as, where its settings come from, and its confinement.
REQUIRED = {
    "User": "speakup",
    "Group": "speakup",
    "WorkingDirectory": "/opt/speakup/app",
    "EnvironmentFile": "/etc/speakup/speakup.env",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "RestrictNamespaces": "yes",
    "LockPersonality": "yes",
    "SystemCallFilter": "@system-service",
    "CapabilityBoundingSet": "",
    "UMask": "0077",
    "ReadWritePaths": "/var/lib/speakup",
}
# The jobs docs/deploy.md says must run, by their command after `flask --app wsgi speakup`.
REQUIRED_JOBS = {("send-reminders",), ("mail", "deliver"), ("purge",), ("sessions", "purge"), ("audit", "anchor")}


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """A unit file's sections, each a list of (key, value) in order (keys repeat: ExecStart=, Environment=)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):  # systemd joins a line ending in a backslash with the next
            pending = line[:-1] + " "
            continue
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"a setting outside any section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"not a setting: {line}"
        current.append((key.strip(), value.strip()))
    return sections


def units() -> dict[str, dict[str, list[tuple[str, str]]]]:
    return {path.name: parse_unit(path.read_text()) for path in sorted(UNITS.iterdir()) if path.is_file()}


def values(section: list[tuple[str, str]], key: str) -> list[str]:
    return [value for name, value in section if name == key]


def program_lines(section: list[tuple[str, str]]) -> list[list[str]]:
    """Every Exec*= command line, split as systemd splits it, without its prefixes (-, @, +, !, :)."""
    lines = []
    for key, value in section:
        if key.startswith("Exec"):
            words = shlex.split(value)
            words[0] = words[0].lstrip("-@+!:")
            lines.append(words)
    return lines


def speakup_commands() -> dict[str, list[list[str]]]:
    """Per service, the words after `flask --app wsgi speakup` of each command it runs."""
    found: dict[str, list[list[str]]] = {}
    for name, unit in units().items():
        for words in program_lines(unit.get("Service", [])):
            if words[0] == VENV_BIN + "flask":
                assert words[1:4] == FLASK_PREFIX, f"{name}: {shlex.join(words)}"
                found.setdefault(name, []).append(words[4:])
    return found


def make_root(base: Path, unit_files: dict[str, str]) -> Path:
    """A root holding systemd's own units (verify loads sysinit.target and the like from it), the units under test,
    and stand-ins for the programs they run: the installed ones, and any other this machine has."""
    root = base / "root"
    shutil.copytree(SYSTEM_UNITS, root / SYSTEM_UNITS.relative_to("/"), symlinks=True)
    target = root / "etc" / "systemd" / "system"
    target.mkdir(parents=True)
    for name, text in unit_files.items():
        (target / name).write_text(text)
    for text in unit_files.values():
        for words in program_lines(parse_unit(text).get("Service", [])):
            program = words[0]
            wanted = program in INSTALLED_PROGRAMS if program.startswith(VENV_BIN) else Path(program).exists()
            if wanted:
                stand_in = root / program.lstrip("/")
                stand_in.parent.mkdir(parents=True, exist_ok=True)
                stand_in.write_text("#!/bin/sh\n")
                stand_in.chmod(0o755)
    return root


def verify(root: Path, names: list[str]) -> list[str]:
    """Everything systemd-analyze verify says about these units (nothing, when they are right)."""
    paths = [str(root / "etc" / "systemd" / "system" / name) for name in names]
    result = subprocess.run(
        [str(SYSTEMD_ANALYZE), "verify", "--man=no", f"--root={root}", *paths],
        capture_output=True,
        text=True,
        timeout=60,
    )
    said = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    return said + ([f"exit status {result.returncode}"] if result.returncode else [])


def exposure_too_high(root: Path, name: str) -> bool:
    command = [str(SYSTEMD_ANALYZE), "security", "--offline=yes", f"--root={root}", f"--threshold={EXPOSURE_THRESHOLD}"]
    result = subprocess.run(
        [*command, name],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode != 0


def deployed_units() -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(UNITS.iterdir()) if path.is_file()}


@needs_systemd_analyze
def test_systemd_verifies_every_unit_without_a_word(tmp_path: Path) -> None:
    files = deployed_units()
    assert verify(make_root(tmp_path, files), sorted(files)) == []


@needs_systemd_analyze
def test_every_service_is_confined_to_systemds_ok_level(tmp_path: Path) -> None:
    files = deployed_units()
    root = make_root(tmp_path, files)
    assert [name for name in files if name.endswith(".service") and exposure_too_high(root, name)] == []


@needs_systemd_analyze
def test_the_checks_catch_a_misspelt_directive_a_missing_program_and_no_sandbox(tmp_path: Path) -> None:
    service = (UNITS / "speakup.service").read_text()
    assert "\nProtectSystem=strict\n" in service and "/bin/gunicorn " in service
    broken = {
        "misspelt.service": service.replace("\nProtectSystem=strict\n", "\nProtectSytem=strict\n"),
        "missing.service": service.replace("/bin/gunicorn ", "/bin/gunicorm "),
        "bare.service": "[Service]\nExecStart=/opt/speakup/venv/bin/gunicorn wsgi:app\n",
    }
    root = make_root(tmp_path, broken)
    assert any("Unknown key 'ProtectSytem'" in line for line in verify(root, ["misspelt.service"]))
    assert any("gunicorm" in line and "not executable" in line for line in verify(root, ["missing.service"]))
    assert exposure_too_high(root, "bare.service")


def test_every_unit_meets_the_brief() -> None:
    services = {name: unit for name, unit in units().items() if name.endswith(".service")}
    assert "speakup.service" in services
    for name, unit in services.items():
        service = unit["Service"]
        for key, wanted in REQUIRED.items():
            assert values(service, key) == [wanted], f"{name}: {key}"
        writable = [k for k, _ in service if k in ("ReadWritePaths", "BindPaths", "StateDirectory", "LogsDirectory")]
        assert sorted(writable) == ["ReadWritePaths", "StateDirectory"], f"{name} may write elsewhere: {writable}"
        assert values(service, "StateDirectory") == ["speakup"]  # that is /var/lib/speakup, the one writable path


def test_the_jobs_are_confined_exactly_as_the_web_service() -> None:
    def shared(unit: dict[str, list[tuple[str, str]]]) -> list[tuple[str, str]]:
        return sorted((key, value) for key, value in unit["Service"] if key not in OWN_SETTINGS)

    every = units()
    web = shared(every["speakup.service"])
    differing = [name for name, unit in every.items() if name.endswith(".service") and shared(unit) != web]
    assert differing == []


def test_the_web_service_runs_gunicorn_with_its_logging_settings_and_restarts() -> None:
    service = units()["speakup.service"]["Service"]
    assert values(service, "Type") == ["notify"]  # gunicorn's arbiter sends READY=1
    assert values(service, "Restart") == ["on-failure"]
    (program,) = program_lines([(k, v) for k, v in service if k == "ExecStart"])
    assert program == [VENV_BIN + "gunicorn", "--config", "/opt/speakup/app/gunicorn.conf.py", "wsgi:app"]
    # The installed location is a checkout of this repository: the files the command names are there.
    assert (ROOT / "gunicorn.conf.py").is_file()
    assert "app" in (ROOT / "wsgi.py").read_text()
    assert values(units()["speakup.service"]["Install"], "WantedBy") == ["multi-user.target"]


def test_every_timer_starts_a_service_here_and_every_job_has_a_timer() -> None:
    every = units()
    timers = {name: unit for name, unit in every.items() if name.endswith(".timer")}
    started = set()
    for name, timer in timers.items():
        unit = values(timer["Timer"], "Unit") or [name.removesuffix(".timer") + ".service"]
        assert unit[0] in every, f"{name} starts {unit[0]}, which deploy/systemd/ does not have"
        assert values(timer["Timer"], "OnCalendar"), f"{name} never fires"
        assert values(timer["Install"], "WantedBy") == ["timers.target"], f"{name} is not started at boot"
        started.add(unit[0])
    services = {name: unit for name, unit in every.items() if name.endswith(".service")}
    jobs = {name for name, unit in services.items() if values(unit["Service"], "Type") == ["oneshot"]}
    assert jobs and jobs == started
    commands = [tuple(words) for name in jobs for words in speakup_commands().get(name, [])]
    missing = [job for job in REQUIRED_JOBS if not any(words[: len(job)] == job for words in commands)]
    assert missing == []


def test_every_command_the_units_run_exists_with_its_options(runner) -> None:
    commands = [words for lines in speakup_commands().values() for words in lines]
    assert len(commands) >= len(REQUIRED_JOBS)
    for words in commands:
        # --help is eager, so nothing runs; an unknown command or option still fails while the line is parsed.
        result = runner.invoke(args=["speakup", *words, "--help"])
        assert result.exit_code == 0, f"speakup {shlex.join(words)}: {result.output}"
        usage = result.output.splitlines()[0]
        assert "COMMAND [ARGS]" not in usage, f"speakup {shlex.join(words)} names a group, not a command"
