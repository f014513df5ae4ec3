"""Upgrading an installation made by the release before signed rosters.

The old release itself (its source from git, run with this interpreter) makes the database: `init`, two guardians,
an administrator and a concern. Then this release migrates it and runs the one documented command,
`speakup roster upgrade`, which reads the old key file, writes a new one holding the organisation signing key,
and approves the guardians the operator confirms from the printed list."""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import sqlite3
import stat
import subprocess
import sys
import tarfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from support.servers import ROOT, Browser, Staff, production_env, sign_in, start_gunicorn, totp_secret_from, unavailable

# The last commit before signed rosters: what a trust upgrading today is running.
PRE_ROSTER_RELEASE = "59f02c677fe7a69e88c36eab1da46ee24bc84c97"
# The last commit with endorsement chains, before the roster became a signed log.
PRE_LOG_RELEASE = "82e5e6feca872ae34c2863100b66aac5c7730788"

RAISE = """
from speakup import create_app
app = create_app()
answer = app.test_client().post("/api/v1/concerns", json={"what_happened": WORDS, "anonymity": "anonymous"})
print(answer.get_json()["reference"])
"""


def _old_release(tmp_path: Path, commit: str = PRE_ROSTER_RELEASE) -> Path:
    try:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", commit],
            capture_output=True, check=True, timeout=60,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as error:
        unavailable(f"the previous release's source from git ({error})")
    folder = tmp_path / f"release-{commit[:8]}"
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(folder, filter="data")
    built = ROOT / "speakup" / "static"
    if (folder / "speakup" / "web" / "assets.py").exists():  # a release that serves built assets: lend it ours
        shutil.copytree(built / "build", folder / "speakup" / "static" / "build", dirs_exist_ok=True)
        shutil.copyfile(built / "manifest.json", folder / "speakup" / "static" / "manifest.json")
    return folder


def _path(answer) -> str:
    """The path of the page an answer came from, after the 303 urllib followed (every form answers with one)."""
    return urlsplit(answer.url).path


def _run(cwd: Path, env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=120
    )


def _flask(cwd: Path, env: dict[str, str], *args: str, stdin: str = "") -> str:
    result = _run(cwd, env, "-m", "flask", "--app", "wsgi", "speakup", *args, stdin=stdin)
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_an_installation_from_before_signed_rosters_upgrades_with_one_command(tmp_path: Path):
    old = _old_release(tmp_path)
    env = production_env(f"sqlite:///{tmp_path / 'speakup.sqlite'}", workers="1", threads="2")
    old_key = tmp_path / "recovery-key.txt"
    _flask(old, env, "init", "--recovery-key-file", str(old_key))
    staff = {}
    for email, name, role in (("gita@example.org", "Gita Guardian", "guardian"),
                              ("bea@example.org", "Bea Guardian", "guardian"),
                              ("ada@example.org", "Ada Admin", "admin")):  # fmt: skip
        password = secrets.token_urlsafe(18)
        created = _flask(old, env, "create-user", "--email", email, "--name", name, "--role", role,
                         stdin=password + "\n")  # fmt: skip
        staff[email] = Staff(email, password, totp_secret_from(created))
    raised = _run(old, env, "-c", f"WORDS = {json.dumps('Raised before the upgrade')}\n" + RAISE)
    assert raised.returncode == 0, raised.stderr
    old_reference = raised.stdout.strip()

    # This release will not serve the old database until the roster is set up.
    refused = _run(ROOT, env, "-c", "from speakup import create_app; create_app()")
    assert refused.returncode != 0 and "SPEAKUP_ROSTER_ROOT must be set in production" in refused.stderr
    assert "speakup roster upgrade" in refused.stderr

    # The one command: Gita is confirmed, Bea is not (the operator is not sure she still holds the role).
    new_key = tmp_path / "custody" / "recovery-key-2.txt"
    upgraded = _flask(ROOT, env, "roster", "upgrade", "--recovery-key-file", str(old_key),
                      "--new-recovery-key-file", str(new_key), stdin="n\ny\n")  # fmt: skip
    assert "Approve Bea Guardian <bea@example.org>?" in upgraded
    assert "Approve Gita Guardian <gita@example.org>?" in upgraded
    assert "approved: Gita Guardian <gita@example.org>" in upgraded and "approved: Bea" not in upgraded
    assert "Ada Admin" not in upgraded  # administrators are never on the roster
    root = next(line.split(": ", 1)[1] for line in upgraded.splitlines() if line.startswith("roster-root: "))
    assert stat.S_IMODE(os.stat(new_key).st_mode) == 0o600
    assert f"Roster-Root: {root}" in new_key.read_text()
    again = _run(ROOT, env, "-m", "flask", "--app", "wsgi", "speakup", "roster", "upgrade", "--recovery-key-file",
                 str(new_key), "--new-recovery-key-file", str(tmp_path / "third.txt"))  # fmt: skip
    assert again.returncode != 0 and "roster log has already started" in again.stdout + again.stderr

    env["SPEAKUP_ROSTER_ROOT"] = root
    verified = _flask(ROOT, env, "roster", "verify")
    assert "ok      gita@example.org" in verified and "bea@example.org" not in verified

    server = start_gunicorn(env, tmp_path)
    try:
        gita = Browser(server.base_url, "upgrade-gita")
        assert sign_in(gita, staff["gita@example.org"]).status == 200
        assert "Raised before the upgrade" in gita.get(f"/guardian/cases/{old_reference}").text
        new = Browser(server.base_url, "upgrade-reporter").post(
            "/api/v1/concerns", json_body={"what_happened": "Raised after the upgrade", "anonymity": "anonymous"}
        )
        reference = new.json()["reference"]
        assert "Raised after the upgrade" in gita.get(f"/guardian/cases/{reference}").text
        bea = Browser(server.base_url, "upgrade-bea")
        waiting = sign_in(bea, staff["bea@example.org"]).text
        assert "You are waiting for approval" in waiting
        bea_code = waiting.split('<span id="safety-code">', 1)[1].split("<", 1)[0]  # her signing key is new
        assert bea.get(f"/guardian/cases/{reference}").status == 403
        # Gita's carried-over approval covers her case key only: she cannot vouch for Bea until her signing key,
        # made at this sign-in, is approved too.
        team = gita.get("/guardian/team")
        assert "Your approval does not cover your signing key yet" in team.text
        assert 'action="/guardian/team/' not in team.text  # no approval form she could not use
        with sqlite3.connect(tmp_path / "speakup.sqlite") as conn:
            bea_id = conn.execute("SELECT id FROM users WHERE email = 'bea@example.org'").fetchone()[0]
        conn.close()
        not_yet = gita.post(f"/guardian/team/{bea_id}/approve", form={"csrf_token": team.csrf(), "safety_code": "0"})
        # Refused with a 303 back to the Team page (for the shared computer), which says why.
        assert not_yet.status == 200 and _path(not_yet) == "/guardian/team", (not_yet.status, _path(not_yet))
        assert "until your own approval covers your signing key" in not_yet.text
        # The organisation key approves her again, now with the signing key her session already holds: she reads
        # its safety code from her own Team page.
        gita_code = team.text.split('class="speakup-safety-code">', 1)[1].split("<", 1)[0]
        _flask(ROOT, env, "approve", "--email", "gita@example.org", "--recovery-key-file", str(new_key),
               "--safety-code", gita_code)  # fmt: skip
        assert "ok      gita@example.org" in _flask(ROOT, env, "roster", "verify")
        team = gita.get("/guardian/team")
        approved = gita.post(f"/guardian/team/{bea_id}/approve",
                             form={"csrf_token": team.csrf(), "safety_code": bea_code})  # fmt: skip
        assert approved.status == 200 and _path(approved) == "/guardian/team"
        assert "Bea Guardian is approved." in approved.text
    finally:
        server.stop()


@pytest.mark.parametrize("problem", ["wrong file", "existing output"])
def test_the_upgrade_changes_nothing_when_it_cannot_finish(tmp_path: Path, problem: str):
    env = production_env(f"sqlite:///{tmp_path / 'speakup.sqlite'}")
    key = tmp_path / "recovery-key.txt"
    _flask(ROOT, env, "init", "--recovery-key-file", str(key))
    # Make it look like an installation from before rosters: no organisation signing key.
    database = tmp_path / "speakup.sqlite"
    with sqlite3.connect(database) as conn:
        conn.execute("DELETE FROM organisation_keys WHERE purpose = 'roster'")
        conn.execute("DELETE FROM roster_log")
    conn.close()
    if problem == "wrong file":
        other = tmp_path / "other"
        other_env = production_env(f"sqlite:///{other}.sqlite")
        _flask(ROOT, other_env, "init", "--recovery-key-file", f"{other}.key")
        key = Path(f"{other}.key")
        output = tmp_path / "new.key"
    else:
        output = tmp_path / "exists.key"
        output.write_text("precious")
    result = _run(ROOT, env, "-m", "flask", "--app", "wsgi", "speakup", "roster", "upgrade", "--recovery-key-file",
                  str(key), "--new-recovery-key-file", str(output))  # fmt: skip
    assert result.returncode != 0
    assert ("not this installation's recovery key" if problem == "wrong file" else "refusing to overwrite") in (
        result.stdout + result.stderr
    )
    if problem == "existing output":
        assert output.read_text() == "precious"
    else:
        assert not output.exists()
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT purpose FROM organisation_keys").fetchall() == [("recovery",)]
    conn.close()


def test_an_installation_with_endorsement_chains_starts_its_roster_log_with_one_command(tmp_path: Path):
    old = _old_release(tmp_path, PRE_LOG_RELEASE)
    env = production_env(f"sqlite:///{tmp_path / 'speakup.sqlite'}", workers="1", threads="2")
    key = tmp_path / "recovery-key.txt"
    initialised = _flask(old, env, "init", "--recovery-key-file", str(key))
    env["SPEAKUP_ROSTER_ROOT"] = initialised.split("roster-root: ", 1)[1].split()[0]
    staff = {}
    for email, name, approve in (("gita@example.org", "Gita Guardian", ("--recovery-key-file", str(key))),
                                 ("bea@example.org", "Bea Guardian", ())):  # fmt: skip
        password = secrets.token_urlsafe(18)
        created = _flask(old, env, "create-user", "--email", email, "--name", name, "--role", "guardian", *approve,
                         stdin=password + "\n")  # fmt: skip
        staff[email] = Staff(email, password, totp_secret_from(created))
    raised = _run(old, env, "-c", f"WORDS = {json.dumps('Raised before the upgrade')}\n" + RAISE)
    assert raised.returncode == 0, raised.stderr
    old_reference = raised.stdout.strip()

    # Migrated but not yet upgraded, this release believes nobody: the log has not started.
    _flask(ROOT, env, "init", "--recovery-key-file", str(tmp_path / "unused.key"))
    not_started = _run(ROOT, env, "-m", "flask", "--app", "wsgi", "speakup", "roster", "verify")
    assert not_started.returncode == 1 and "roster upgrade" in not_started.stdout
    upgraded = _flask(ROOT, env, "roster", "upgrade", "--recovery-key-file", str(key), "--approve", "gita@example.org")
    assert "approved: Gita Guardian <gita@example.org>" in upgraded and "Bea" not in upgraded
    assert "1 cases' lists of excluded guardians sealed" in upgraded
    assert "ok      gita@example.org" in _flask(ROOT, env, "roster", "verify")

    server = start_gunicorn(env, tmp_path)
    try:
        gita = Browser(server.base_url, "log-upgrade-gita")
        assert sign_in(gita, staff["gita@example.org"]).status == 200
        assert "Raised before the upgrade" in gita.get(f"/guardian/cases/{old_reference}").text
        reporter = Browser(server.base_url, "log-upgrade-reporter")
        new = reporter.post("/api/v1/concerns", json_body={"what_happened": "Raised after", "anonymity": "anonymous"})
        assert "Raised after" in gita.get(f"/guardian/cases/{new.json()['reference']}").text
        # Her approval carried over with her signing key: she approves Bea by the code on Bea's own screen.
        bea = Browser(server.base_url, "log-upgrade-bea")
        waiting = sign_in(bea, staff["bea@example.org"]).text
        bea_code = waiting.split('<span id="safety-code">', 1)[1].split("<", 1)[0]
        team = gita.get("/guardian/team")
        with sqlite3.connect(tmp_path / "speakup.sqlite") as conn:
            bea_id = conn.execute("SELECT id FROM users WHERE email = 'bea@example.org'").fetchone()[0]
        conn.close()
        approved = gita.post(f"/guardian/team/{bea_id}/approve",
                             form={"csrf_token": team.csrf(), "safety_code": bea_code})  # fmt: skip
        assert approved.status == 200 and _path(approved) == "/guardian/team"
        assert "Bea Guardian is approved." in approved.text
        # The older case, whose exclusions were sealed by the upgrade, can be shared with her.
        case = gita.get(f"/guardian/cases/{old_reference}")
        shared = gita.post(f"/guardian/cases/{old_reference}/share",
                           form={"csrf_token": case.csrf(), "share_with": str(bea_id)})  # fmt: skip
        on_case_page = re.fullmatch(r"/guardian/cases/[^/]+", _path(shared)) and f"Case {old_reference}" in shared.text
        assert shared.status == 200 and on_case_page, (shared.status, _path(shared))
        assert "Raised before the upgrade" in bea.get(f"/guardian/cases/{old_reference}").text
    finally:
        server.stop()
