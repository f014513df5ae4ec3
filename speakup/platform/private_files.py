"""Files only the service's own user may read (keys, anchors, backups, development secrets): exactly mode 0600,
whatever the caller's umask and whatever mode a file already there had.

``os.open``'s mode is filtered by the umask (a umask of 077 still gives 0600, but one of 377 gives 0400 and a
backup the service cannot finish writing), and opening an existing file keeps its mode (an anchor file once made
0644 by hand would stay so). So each file is set to 0600 on its open descriptor, before anything is written.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE = 0o600


def open_private(path: Path | str, flags: int) -> int:
    """``os.open(path, flags)``, the file made exactly 0600 before the descriptor is returned."""
    fd = os.open(path, flags, PRIVATE)
    try:
        os.fchmod(fd, PRIVATE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_new(path: Path | str, text: str) -> None:
    """A new file holding ``text``; refuses (FileExistsError) to overwrite one."""
    with os.fdopen(open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL), "w", encoding="utf-8") as handle:
        handle.write(text)


def replace(path: Path | str, text: str) -> None:
    """``path`` holds ``text``, or (on any failure) what it held before: written beside it, then moved over it."""
    temporary = Path(f"{path}.{os.getpid()}.tmp")
    try:
        with os.fdopen(open_private(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def append(path: Path | str, text: str) -> None:
    with os.fdopen(open_private(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND), "a", encoding="utf-8") as handle:
        handle.write(text)
