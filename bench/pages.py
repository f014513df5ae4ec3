"""Lighthouse's mobile performance score for the reporter's pages (the target: at least 98 on /, /raise and
/follow-up), in Debian's Chromium, against the app served by gunicorn exactly as `make run` configures it but with
gunicorn in front (the pages' files come from the app itself, compressed at build time).

`make bench-pages` or `python -m bench.pages [--runs 3] [--json FILE]`. Lighthouse (npm, pinned in package.json)
runs its default mobile profile: a mid-range phone, simulated slow 4G and a 4x slower CPU. Each page is measured
--runs times; the median score is the figure, and the lowest is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.servers import Server

ROOT = Path(__file__).resolve().parent.parent
LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
PAGES = ("/", "/raise", "/follow-up")
TARGET = 98
METRICS = {
    "first-contentful-paint": "FCP ms",
    "largest-contentful-paint": "LCP ms",
    "total-blocking-time": "TBT ms",
    "cumulative-layout-shift": "CLS",
    "speed-index": "SI ms",
    "total-byte-weight": "KiB",
}


def _serve(workdir: Path) -> Server:
    """A fresh development instance in ``workdir``, served by gunicorn as the speed benchmark serves it. Nothing of
    the caller's SPEAKUP_ or PG settings reaches it: it never touches a real database or key."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SPEAKUP_", "PG"))}
    env.update(
        {
            "SPEAKUP_ENVIRONMENT": "development",
            "SPEAKUP_INSTANCE_PATH": str(workdir),
            "SPEAKUP_REQUIRE_MFA": "false",
            "SPEAKUP_ACCESS_LOG": str(workdir / "access.log"),
            "SPEAKUP_ERROR_LOG": str(workdir / "error.log"),
        }
    )
    subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", "flask", "--app", "wsgi", "speakup", "init", "--recovery-key-file",
         str(workdir / "recovery-key.txt")],
        cwd=ROOT, env=env, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    server = Server(env, workdir, "app", workers=2)
    server.wait_ready()
    return server


def lighthouse(url: str, out: Path) -> dict:
    chromium = shutil.which("chromium")
    if not chromium or not LIGHTHOUSE.exists():
        raise SystemExit("needs Debian's chromium (apt-get install -y chromium) and npm ci (Lighthouse)")
    subprocess.run(  # noqa: S603 - fixed arguments
        [str(LIGHTHOUSE), url, "--only-categories=performance", "--output=json", f"--output-path={out}", "--quiet",
         f"--chrome-path={chromium}", "--chrome-flags=--headless=new --no-sandbox"],
        check=True, timeout=300,
    )  # fmt: skip
    report = json.loads(out.read_text())
    figures = {"score": round(report["categories"]["performance"]["score"] * 100)}
    for audit, label in METRICS.items():
        value = report["audits"][audit]["numericValue"]
        figures[label] = round(value / 1024, 1) if label == "KiB" else round(value, 3 if label == "CLS" else 0)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="speakup-pages-") as tmp:
        workdir = Path(tmp)
        server = _serve(workdir)
        try:
            for path in PAGES:
                results[path] = [lighthouse(server.url + path, workdir / f"run-{n}.json") for n in range(args.runs)]
        finally:
            server.stop()
    header = ["page", "score (median)", "lowest", *METRICS.values(), "target"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for path, runs in results.items():
        scores = [run["score"] for run in runs]
        middle = sorted(runs, key=lambda run: run["score"])[len(runs) // 2]
        verdict = "PASS" if statistics.median(scores) >= TARGET else "MISS"
        row = [f"`{path}`", str(statistics.median(scores)), str(min(scores))]
        row += [str(middle[label]) for label in METRICS.values()]
        lines.append("| " + " | ".join([*row, f"≥ {TARGET}: {verdict}"]) + " |")
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
