"""Lighthouse's mobile performance score for the reporter's pages (issue 17: at least 98 on /, /raise and
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
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve(workdir: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {
        **os.environ,
        "SPEAKUP_ENVIRONMENT": "development",
        "SPEAKUP_INSTANCE_PATH": str(workdir),
        "SPEAKUP_REQUIRE_MFA": "false",
        "SPEAKUP_BIND": f"127.0.0.1:{port}",
        "SPEAKUP_ACCESS_LOG": str(workdir / "access.log"),
        "SPEAKUP_ERROR_LOG": str(workdir / "error.log"),
    }
    env.pop("SPEAKUP_DATABASE_URL", None)
    subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", "flask", "--app", "wsgi", "speakup", "init", "--recovery-key-file",
         str(workdir / "recovery-key.txt")],
        cwd=ROOT, env=env, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "wsgi:app", "-c", "gunicorn.conf.py"], cwd=ROOT, env=env
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=2)  # noqa: S310 - loopback
            return server, base
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not answer /healthz: see " + str(workdir / "error.log"))


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
        server, base = _serve(workdir)
        try:
            for path in PAGES:
                results[path] = [lighthouse(base + path, workdir / f"run-{n}.json") for n in range(args.runs)]
        finally:
            server.terminate()
            server.wait(timeout=30)
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
