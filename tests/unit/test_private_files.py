"""Every file the service writes for itself (keys, anchors, backups, development secrets) is exactly 0600, whatever
the umask it was started with and whatever mode a file already there had (issue 27, point 7)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from speakup.cli.roster import write_key_file
from speakup.ops.backups import backup_sqlite
from speakup.platform import private_files


@pytest.fixture(params=[0o000, 0o022, 0o077, 0o377], ids=lambda umask: f"umask {umask:03o}")
def umask(request) -> Iterator[int]:
    before = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_each_way_of_writing_gives_0600(tmp_path: Path, umask: int):
    private_files.write_new(tmp_path / "new", "a")
    private_files.replace(tmp_path / "replaced", "b")
    private_files.append(tmp_path / "appended", "c\n")
    for name, text in (("new", "a"), ("replaced", "b"), ("appended", "c\n")):
        assert mode(tmp_path / name) == 0o600 and (tmp_path / name).read_text() == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["appended", "new", "replaced"]  # no temporary left


def test_a_file_already_there_is_made_private(tmp_path: Path, umask: int):
    for name in ("anchors", "settings"):
        (tmp_path / name).write_text("old\n")
        (tmp_path / name).chmod(0o644)
    private_files.append(tmp_path / "anchors", "new\n")
    private_files.replace(tmp_path / "settings", "new\n")
    assert mode(tmp_path / "anchors") == mode(tmp_path / "settings") == 0o600
    assert (tmp_path / "anchors").read_text() == "old\nnew\n"
    with pytest.raises(FileExistsError):
        private_files.write_new(tmp_path / "settings", "never over a file")


def test_the_commands_files_are_0600(tmp_path: Path, umask: int):
    write_key_file(tmp_path / "keys" / "recovery.txt", "a key")
    database = tmp_path / "live.sqlite"
    import sqlite3

    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE t (x)")
    connection.close()
    backup_sqlite(str(database), tmp_path / "copy.sqlite")
    assert mode(tmp_path / "keys" / "recovery.txt") == mode(tmp_path / "copy.sqlite") == 0o600
