"""docs/deploy.md, the operator's guide, stays true: it covers every setting, names only units that exist, and every
command it gives (`speakup ...` or `flask --app wsgi speakup ...`) is one the app has, with options it takes."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

import config.default

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "deploy.md"
UNITS = ROOT / "deploy" / "systemd"
FLASK_PREFIX = ["--app", "wsgi", "speakup"]
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
SEPARATORS = {";", "&", "&&", "|", "||", "(", ")", "<", ">", ">>", "<<"}
# What the ceremony, the drills and the upgrade in the guide cannot do without.
ESSENTIAL = {"init", "create-user", "approve", "recover", "roster verify", "audit verify", "purge"}


def guide() -> str:
    return GUIDE.read_text()


def config_keys() -> list[str]:
    return sorted(name for name in vars(config.default) if name.isupper() and not name.startswith("_"))


def code_lines(text: str) -> list[str]:
    """The lines inside fenced code blocks, a line ending in a backslash joined with the next (as the shell does),
    and every inline code span."""
    lines, inside, pending = [], False, ""
    for raw in text.splitlines():
        if raw.lstrip().startswith("```"):
            inside = not inside
            continue
        if not inside:
            continue
        line = pending + raw
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        lines.append(line)
    outside = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    return lines + re.findall(r"`([^`\n]+)`", outside)


def speakup_commands(line: str) -> list[list[str]]:
    """The words after `speakup` (or `flask --app wsgi speakup`) of each command on a shell line. Skipped: the
    shell function's own definition and body (`speakup() {`, `"$@"`), and prose placeholders such as <command>."""
    if re.match(r"^\s*speakup\s*\(\)", line) or "<" in line or "..." in line:
        return []
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:  # an unbalanced quote: prose, not a command
        return []
    found, segment = [], []
    for token in [*tokens, ";"]:
        if token not in SEPARATORS:
            segment.append(token)
            continue
        while segment and ASSIGNMENT.match(segment[0]):  # VAR=value before a command
            segment.pop(0)
        if segment and (segment[0] == "speakup" or segment[0].endswith("/bin/speakup")):
            found.append(segment[1:])
        elif segment and (segment[0] == "flask" or segment[0].endswith("/bin/flask")) and segment[1:4] == FLASK_PREFIX:
            found.append(segment[4:])
        segment = []
    # A bare `speakup` is the user's or the command's name in prose, not a command line.
    return [words for words in found if words and "$@" not in words]


def guide_commands() -> list[list[str]]:
    return [words for line in code_lines(guide()) for words in speakup_commands(line)]


@pytest.mark.parametrize("key", config_keys())
def test_the_guide_covers_every_setting(key: str) -> None:
    assert re.search(rf"\bSPEAKUP_{key}\b", guide()), f"docs/deploy.md does not mention SPEAKUP_{key}"


def test_every_variable_the_guide_names_is_read_by_something(app) -> None:
    """A misspelt variable in an environment file is silently ignored, so the guide must not teach one. Known:
    every key of the app's configuration (its own, Flask's and its extensions'), and what gunicorn.conf.py and
    create_app read from the environment themselves."""
    sources = [ROOT / "gunicorn.conf.py", *sorted((ROOT / "speakup").rglob("*.py"))]
    read_directly = {
        name for path in sources for name in re.findall(r"environ\.get\(\"(SPEAKUP_\w+)\"", path.read_text())
    }
    known = {f"SPEAKUP_{key}" for key in app.config} | read_directly
    named = set(re.findall(r"\bSPEAKUP_[A-Z0-9_]*[A-Z0-9]\b", guide()))
    assert sorted(named - known) == []


def test_the_units_the_guide_names_are_the_units_there_are() -> None:
    named = set(re.findall(r"\bspeakup(?:-[a-z]+)*\.(?:service|timer)\b", guide()))
    there = {path.name for path in UNITS.iterdir() if path.is_file()}
    assert sorted(named - there) == [], "the guide names units deploy/systemd/ does not have"
    assert sorted(there - named) == [], "deploy/systemd/ has units the guide never mentions"


def test_the_guide_gives_the_essential_commands() -> None:
    given = {" ".join(words[:2]) for words in guide_commands()} | {words[0] for words in guide_commands() if words}
    assert sorted(ESSENTIAL - given) == []


def test_every_command_in_the_guide_exists_with_its_options(runner) -> None:
    commands = guide_commands()
    assert len(commands) > len(ESSENTIAL)
    for words in commands:
        # --help is eager, so nothing runs; an unknown command or option still fails while the line is parsed.
        result = runner.invoke(args=["speakup", *words, "--help"])
        assert result.exit_code == 0, f"speakup {shlex.join(words)}: {result.output}"
        usage = result.output.splitlines()[0]
        assert "COMMAND [ARGS]" not in usage, f"speakup {shlex.join(words)} names a group, not a command"


def test_every_alert_the_guide_lists_is_logged_at_error():
    """Issue 27, point 3: an operator alerts on ERROR, so each line the guide tells them to act on is written at ERROR
    (or CRITICAL) somewhere in the service, by the words the guide gives."""
    table = guide().split("- **What to alert on**", 1)[1].split("\n\n## ", 1)[0]
    rows = re.findall(r"^  \| (.+?) \| ", table, re.M)[2:]  # after the heading and its rule
    starts = [start for row in rows for start in re.findall(r"`([^`]+)`", row)]
    assert len(starts) >= 12
    code = "\n".join(path.read_text() for path in (ROOT / "speakup").rglob("*.py"))
    calls = re.findall(r"\.(error|critical)\(\s*(?:f?\w+\.)?(?:f?\"([^\"]*)\"|(\w+_ERROR))", code)
    logged = [text for _level, text, _constant in calls if text]
    constants = {name for _level, _text, name in calls if name}
    logged += [re.search(rf"{name} = \(\s*\"([^\"]*)\"", code).group(1) for name in constants]  # type: ignore[union-attr]
    for start in starts:
        assert any(text.startswith(start) for text in logged), f"{start!r} is not logged at ERROR"


def test_the_nodejs_the_build_needs_is_stated_and_covers_every_package_it_installs():
    """Issue 27, point 7: package.json's engines says the oldest Node.js the build runs on, at least what every
    package `npm ci --omit=dev` installs asks for (the build's first step refuses an older one), and the guide says
    it."""
    import json

    def lowest(range_: str) -> tuple[int, ...]:
        first = re.search(r"(\d+(?:\.\d+)*)", range_.split("||")[0])
        assert first, range_
        return tuple(int(part) for part in [*first.group(1).split("."), "0", "0"][:3])

    stated = json.loads((ROOT / "package.json").read_text())["engines"]["node"]
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    needed = max(
        lowest(p["engines"]["node"]) for p in lock.values() if not p.get("dev") and "node" in p.get("engines", {})
    )
    assert lowest(stated) >= needed, f"package.json says {stated}; the packages need {needed}"
    assert json.loads((ROOT / "package.json").read_text())["scripts"]["build"].startswith("node assets/check_node.mjs")
    assert f"Node.js {stated.removeprefix('>=')}" in guide()


def test_the_guide_installs_no_test_tools_and_keeps_its_umask_to_a_subshell():
    """Issue 27, points 5 and 7: a server gets the app without pytest, Playwright or schemathesis, and a `umask 077`
    set for a dump never leaves the code that follows it unreadable to the service's user."""
    commands = [line.strip() for block in re.findall(r"```sh\n(.*?)```", guide(), re.S) for line in block.splitlines()]
    installs = [line for line in commands if "pip install" in line]
    assert installs and all("requirements.txt" not in line and "[test]" not in line for line in installs), installs
    for line in commands:
        if "umask" in line:
            assert line.startswith("(umask ") and line.endswith(")"), line


def test_every_restore_in_the_guide_reads_the_folder_the_backups_are_written_to() -> None:
    """Outside review of issue 27, finding 5: the drills restored from a folder only hand-made dumps went to, so
    they never tested the nightly copies (and found nothing on a server that made none by hand)."""
    text = guide()
    folder = re.search(r"^SPEAKUP_BACKUP_FOLDER=(\S+)$", text, re.M)
    assert folder, "the environment file in the guide sets no SPEAKUP_BACKUP_FOLDER"
    restores = [line for line in code_lines(text) if "NEWEST=" in line]
    assert restores, "the guide restores nothing"
    for line in restores:
        assert f"ls -t {folder.group(1)}/" in line, line
    assert not [line for line in code_lines(text) if "pg_dump --" in line], "dumps are made by `speakup backups run`"


def test_every_ceremony_in_the_guide_removes_the_key_file_from_the_server_after_it() -> None:
    """Outside review of issue 27, finding 9: the rotation and restore steps copied the offline key file into
    /run/speakup-ceremony and never removed it, so it stayed on the server until the next reboot."""
    for section in re.split(r"\n## ", guide()):
        code = "\n".join(code_lines(section))
        uses = [m.end() for m in re.finditer(r"/run/speakup-ceremony/", code)]
        if not uses:
            continue
        removed = code.rfind("rm -rf /run/speakup-ceremony")
        assert removed > uses[-1], f"section {section.splitlines()[0]!r} leaves the key file in /run/speakup-ceremony"
