"""Each app instance's record of the roster log's head, kept outside the database.

A database writer cannot edit the log without breaking its hash chain, but they can put back an older copy of it
(or of the whole database): a shorter log is still a valid chain. So every instance writes down the newest head it
has verified, in a file in its instance folder (``ROSTER_ANCHOR_FILE``), and refuses a log that no longer reaches
that head unchanged, unless the organisation key has signed a checkpoint since (`speakup roster accept`).

The file holds one anchor per roster root (a JSON object keyed by the root's fingerprint), so an instance folder
shared by two installations, or by a test run's many, keeps them apart. It also keeps the recovery public key the
organisation key signed, so that a concern raised while the log is in doubt is still sealed for that key alone.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from speakup.crypto import signing
from speakup.platform import private_files
from speakup.platform.config import settings

logger = logging.getLogger(__name__)


class AnchorUnreadable(Exception):
    """The anchor file exists but is not one this service wrote: a roster alarm, never a silent reset."""


@dataclass(frozen=True)
class Anchor:
    seq: int
    hash: str
    at: str  # when this instance saw that head (the same format as the log's timestamps)
    recovery_public: str | None
    # The signed time of the checkpoint that head was verified under. A log that no longer reaches the head is
    # accepted only under a checkpoint signed later than this one: both times come from the organisation key's
    # signer, so neither server's clock decides.
    checkpoint_at: str = ""
    # The fingerprint of the organisation key in force at that head (a hand-over moves it): a log that no longer
    # hands over to it (a checkpoint the retired key signed after its hand-over, put at the end) is refused.
    root: str = ""


def anchor_file() -> Path:
    return settings().roster_anchor_file


def _load(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise AnchorUnreadable(f"the roster anchor file cannot be read ({exc.strerror})") from None
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        raise AnchorUnreadable("the roster anchor file is damaged") from None
    if not isinstance(data, dict):
        raise AnchorUnreadable("the roster anchor file is damaged")
    return data


def read_anchor(root: str) -> Anchor | None:
    """This instance's anchor for the roster whose root has fingerprint ``root``, or None if it has none yet. A
    server pinned to a new root after a rotation starts from the anchor it kept under the old pin while it followed
    the hand-over (the anchor whose root in force is ``root``), so a log rolled back meanwhile is still seen."""
    data = _load(anchor_file())
    entry = data.get(root)
    if entry is None:
        followed = [e for e in data.values() if isinstance(e, dict) and _normalised(e.get("root")) == root]
        entry = max(followed, key=_seq, default=None) if followed else None
    if entry is None:
        return None
    try:
        return Anchor(
            int(entry["seq"]),
            str(entry["hash"]),
            str(entry["at"]),
            entry.get("recovery_public"),
            str(entry.get("checkpoint_at", "")),
            str(entry.get("root", "")),
        )
    except (KeyError, TypeError, ValueError):
        raise AnchorUnreadable("the roster anchor file is damaged") from None


def _normalised(fingerprint: object) -> str:
    return signing.normalise_fingerprint(fingerprint) if isinstance(fingerprint, str) else ""


def _seq(entry: dict[str, Any]) -> int:
    seq = entry.get("seq")
    return seq if isinstance(seq, int) else 0


def stamp() -> tuple[int, int] | None:
    """When and how big the anchor file is: cheap enough to read for every concern, so a roster cached by one
    worker is verified again as soon as another worker moves the anchor."""
    try:
        status = os.stat(anchor_file())
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size


def _is_older(new: Anchor, existing: object) -> bool:
    if not isinstance(existing, dict):
        return False
    try:
        same_checkpoint = str(existing.get("checkpoint_at", "")) == new.checkpoint_at
        return same_checkpoint and int(existing["seq"]) > new.seq
    except (KeyError, TypeError, ValueError):
        return False


def write_anchor(root: str, anchor: Anchor, force: bool = False) -> None:
    """Records a verified head. Never fatal: an instance folder that cannot be written weakens rollback detection
    on this instance (logged), it does not stop concerns being raised. ``force``: even over a newer head (an entry
    the service wrote is missing from the log: the anchor must name it, so every verification alarms)."""
    path = anchor_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock_fd = private_files.open_private(f"{path}.lock", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        with os.fdopen(lock_fd, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # workers of one instance share the file
            data = _load(path)
            if not force and _is_older(anchor, data.get(root)):
                return  # another worker anchored a newer head meanwhile: never move an anchor back
            data[root] = asdict(anchor)
            private_files.replace(path, json.dumps(data, sort_keys=True, indent=1))
    except (OSError, AnchorUnreadable) as exc:
        logger.error("roster_anchor_not_written: %s", exc)
