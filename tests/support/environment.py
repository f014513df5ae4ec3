"""An environment file's lines as the service receives them: read by a shell, which takes quotes as systemd's
EnvironmentFile does (a bare ["..."] loses its inner quotes on the way, so a JSON list must be quoted whole)."""

from __future__ import annotations

import subprocess


def read_environment_lines(text: str) -> dict[str, str]:
    """The variables ``text`` (KEY=value lines) sets, each as a shell sourcing it with ``set -a`` exports it."""
    names = [line.split("=", 1)[0] for line in text.strip().splitlines() if line.strip()]
    show = " ".join(f'"${name}"' for name in names)
    script = f"set -a\n{text}\nprintf '%s\\0' {show}"
    read = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True, env={})
    return dict(zip(names, read.stdout.split("\0")[: len(names)], strict=True))
