"""Measured speed: Speak Up through gunicorn at 1,000 and 100,000 real encrypted cases, side by side
with the framework's floor. Run: `make bench` (or `python -m bench.run`; `--quick` or BENCH_QUICK=1
checks the harness in about two minutes with small sizes and short runs).

For each size it makes a fresh database (a SQLite file, or PostgreSQL when SPEAKUP_BENCH_DATABASE_URL
names a database called bench or bench_*), runs `flask speakup init`, creates 10 guardians and a pool
of staff for sign-in, and seeds real encrypted cases (bench/seed.py), the sizes in parallel. Then for
each scenario and size it starts gunicorn in production mode (secrets from the environment, production
Argon2, rate limits raised so they do not distort the figures), drives it from a separate load
generator process (bench/load.py) at 1, 16 and 64 concurrent clients, reads the peak RSS (VmHWM) of
every worker from /proc, and stops it. The floor (bench/floor.py: bare Flask + SQLAlchemy storing the
same bytes without encryption) is served the same way against the same database. Sizes alternate
within each scenario, so a change in the machine's load hits both alike. Results are printed as
Markdown for BENCHMARKS.md, with PASS or MISS for each target.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.support import processes

RSS_LIMIT_MIB = 120e6 / 2**20  # the 120 MB, read strictly: 114.4 MiB (VmHWM is in KiB)

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


@dataclass(frozen=True)
class Scenario:
    key: str  # what bench/load.py runs
    label: str
    server: str  # "app" or "floor"
    levels: tuple[int, ...]
    accounts: str = ""  # which accounts the load generator signs in with
    group: str = ""


LEVELS = (1, 16, 64)
QUEUE_FIRST = "queue:/guardian/"
QUEUE_FILTERED = "queue:/guardian/?status=in_progress&theme=patient_safety"
# Reads first, sign-in, then the two that add rows, so every read is measured at the seeded size.
SCENARIOS = (
    Scenario("followup_api", "follow up (API)", "app", LEVELS, group="followup"),
    Scenario("followup_html", "follow up (HTML)", "app", LEVELS, group="followup"),
    Scenario(QUEUE_FIRST, "queue: first page", "app", LEVELS, "guardians", "queue"),
    Scenario(QUEUE_FILTERED, "queue: in progress + patient safety", "app", LEVELS, "guardians", "queue"),
    Scenario("queue:/guardian/?assigned=me&due=overdue", "queue: mine + overdue", "app", (1,), "guardians", "queue"),
    Scenario("queue:/guardian/?page=5", "queue: page 5", "app", (1,), "guardians", "queue"),
    Scenario("case_page", "guardian case page", "app", LEVELS, "guardians", "case"),
    Scenario("sign_in", "sign-in (Argon2 default)", "app", (1, 2, 16, 64), "sign_in", "sign_in"),
    Scenario("sign_in_variant", "sign-in (Argon2 variant)", "app", (1, 2, 16, 64), "sign_in_variant", "sign_in"),
    Scenario("raise_api", "raise a concern (API)", "app", LEVELS, group="raise"),
    Scenario("floor", "floor: bare insert", "floor", LEVELS, group="raise"),
)


@dataclass
class Size:
    cases: int
    url: str
    env: dict[str, str]
    workdir: Path
    data: dict = field(default_factory=dict)
    sessions: list = field(default_factory=list)
    last_steps: dict = field(default_factory=dict)
    bytes_per_case: float = 0.0


# --- Databases ---------------------------------------------------------------------------------


def _postgres_url_for(base_url: str, size: int) -> str:
    parts = urlsplit(base_url)
    name = parts.path.lstrip("/")
    host = parts.hostname or ""
    # This benchmark wipes what it uses: never anything but a bench database on this machine.
    if not (name == "bench" or name.startswith("bench_")) or host not in ("127.0.0.1", "localhost"):
        raise SystemExit("SPEAKUP_BENCH_DATABASE_URL must name a database bench or bench_* on 127.0.0.1")
    scheme = "postgresql+psycopg"
    return urlunsplit((scheme, parts.netloc, f"/{name}_{size}", "", ""))


def _fresh_postgres(url: str) -> None:
    parts = urlsplit(url)
    processes.empty_postgres_database(
        urlunsplit(("postgresql", parts.netloc, "/bench", "", "")), parts.path.lstrip("/")
    )


def _database_bytes(url: str) -> int:
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"
        ).fetchone()
    return int(row[0]) if row else 0


# --- Servers -----------------------------------------------------------------------------------


def base_env(url: str, workdir: Path, workers: int, threads: int, settings: list[str]) -> dict[str, str]:
    env = processes.production_env(
        url,
        INSTANCE_PATH=str(workdir / "instance"),
        # Rate limits stay on (their cost is part of every request) but far above what the load
        # generator sends from one address, so they never turn a request away.
        SUBMIT_RATE_LIMIT="1000000 per minute",
        ACCESS_CODE_RATE_LIMIT="1000000 per minute",
        SIGN_IN_RATE_LIMIT="1000000 per minute",
        WORKERS=str(workers),
        THREADS=str(threads),
        ACCESS_LOG=str(workdir / "access.log"),
        ERROR_LOG=str(workdir / "error.log"),
    )
    for setting in settings:  # a what-if from --setting, such as ARGON2_PARALLEL_DERIVATIONS=2
        key, _, value = setting.partition("=")
        env[f"SPEAKUP_{key}"] = value
    return env


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _peak_rss_mib(pid: int) -> float | None:
    """VmHWM: the most resident memory the process has had since it started."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Server:
    def __init__(self, size: Size, kind: str, workers: int):
        self.port = processes.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**size.env, "SPEAKUP_BIND": f"127.0.0.1:{self.port}"}
        target = "wsgi:app" if kind == "app" else "bench.floor:app"
        self.output = size.workdir / f"gunicorn-{kind}.log"
        with self.output.open("ab") as sink:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
                [PYTHON, "-m", "gunicorn", target, "-c", "gunicorn.conf.py"],
                cwd=ROOT,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        self.workers = workers

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited; see {self.output}:\n" + self.output.read_text()[-3000:])
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as answer:  # noqa: S310 - loopback
                    if answer.status == 200 and len(_children(self.process.pid)) >= self.workers:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise SystemExit(f"gunicorn did not become ready; see {self.output}")

    def peak_rss(self) -> list[float]:
        return [rss for pid in _children(self.process.pid) if (rss := _peak_rss_mib(pid)) is not None]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


# --- Preparing -------------------------------------------------------------------------------


def prepare_sizes(sizes: list[Size], pools: tuple[int, int]) -> None:
    for size in sizes:
        if size.url.startswith("postgresql"):
            _fresh_postgres(size.url)
        init = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
            [PYTHON, "-m", "flask", "--app", "wsgi", "speakup", "init", "--recovery-key-file",
             str(size.workdir / "recovery-key.txt")],
            cwd=ROOT, env=size.env, check=True, capture_output=True, timeout=300, text=True,
        )  # fmt: skip
        # Pinned as an operator pins it: production serves nothing without SPEAKUP_ROSTER_ROOT.
        size.env["SPEAKUP_ROSTER_ROOT"] = re.search(r"^roster-root: (\S+)$", init.stdout, re.MULTILINE).group(1)
    started = time.perf_counter()
    running = []
    for size in sizes:
        out = size.workdir / "prepared.json"
        command = [PYTHON, "-m", "bench.prepare", "--size", str(size.cases), "--out", str(out)]
        command += ["--sign-in-pool", str(pools[0]), "--variant-pool", str(pools[1])]
        command += ["--recovery-key-file", str(size.workdir / "recovery-key.txt")]
        log = (size.workdir / "prepare.log").open("wb")
        process = subprocess.Popen(command, cwd=ROOT, env=size.env, stdout=log, stderr=log)  # noqa: S603
        running.append((size, out, process))
    for size, out, process in running:
        if process.wait() != 0:
            raise SystemExit(f"preparing {size.cases} cases failed:\n" + (size.workdir / "prepare.log").read_text())
        size.data = json.loads(out.read_text())
        size.bytes_per_case = _database_bytes(size.url) / size.cases
        print(
            f"  {size.cases:,} cases: accounts {size.data['accounts_seconds']:.0f} s, "
            f"seeding {size.data['seed_seconds']:.0f} s, {size.bytes_per_case / 1024:.1f} KiB per case",
            flush=True,
        )
    print(f"  prepared in {time.perf_counter() - started:.0f} s (sizes in parallel)", flush=True)


# --- Measuring -------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: a latency some request really had."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _load(job: dict, what: str) -> dict:
    answer = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [PYTHON, "-m", "bench.load"],
        cwd=ROOT,
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if answer.returncode != 0:
        raise SystemExit(f"load generator failed on {what}:\n{answer.stderr[-3000:]}")
    return json.loads(answer.stdout)


def sign_in_guardians(size: Size, args: argparse.Namespace) -> None:
    """Signs guardians in for the queue and case page scenarios, on a server of its own."""
    server = Server(size, "app", args.workers)
    try:
        server.wait_ready()
        job = {"url": server.url, "scenario": "sessions", "accounts": size.data["guardians"]}
        result = _load({**job, "last_steps": size.last_steps}, "guardian sign-in")
    finally:
        server.stop()
    size.sessions = result["sessions"]
    size.last_steps.update(result["last_steps"])


def run_scenario(scenario: Scenario, size: Size, args: argparse.Namespace) -> dict:
    server = Server(size, scenario.server, args.workers)
    try:
        server.wait_ready()
        job: dict = {
            "url": server.url,
            "scenario": scenario.key,
            "levels": list(scenario.levels),
            "warmup": args.warmup,
            "duration": args.duration * (1.5 if scenario.group == "sign_in" else 1),
            "cases": size.data["cases"],
            "sessions": size.sessions,
            "last_steps": size.last_steps,
        }
        if scenario.accounts:
            job["accounts"] = size.data[scenario.accounts]
        result = _load(job, scenario.label)
        rss = server.peak_rss()
    finally:
        server.stop()
    size.last_steps.update(result.get("last_steps", {}))
    levels = {}
    for level in result["levels"]:
        lat = level["latencies"]
        levels[level["concurrency"]] = {
            "n": len(lat),
            "p50": percentile(lat, 50) * 1000,
            "p95": percentile(lat, 95) * 1000,
            "p99": percentile(lat, 99) * 1000,
            "rps": len(lat) / level["seconds"],
            "errors": sum(level["errors"].values()),
            "account_wait": level["account_wait"],
            "error_kinds": level["errors"],
        }
    return {"levels": levels, "rss": rss}


# --- Reporting -------------------------------------------------------------------------------


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{mem_kib / 1024 / 1024:.0f} GiB"
    except OSError:
        memory = "?"
    versions = f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    return f"{model}, {os.cpu_count()} cores, {memory}, {versions}"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b and not math.isnan(a) and not math.isnan(b) else "–"


def report(results: dict, sizes: list[Size], scenarios: list[Scenario], args: argparse.Namespace) -> list[str]:
    lines: list[str] = []
    floor_known = any(s.key == "floor" for s in scenarios)
    for size in sizes:
        lines += [
            "",
            f"#### {size.cases:,} cases",
            "",
            "| scenario | clients | p50 ms | p95 ms | p99 ms | req/s | p50 ÷ floor | req/s ÷ floor | errors | n |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        floor = results.get(("floor", size.cases), {}).get("levels", {}) if floor_known else {}
        for scenario in scenarios:
            for clients, m in results[(scenario.key, size.cases)]["levels"].items():
                f = floor.get(clients, {})
                waited = m.get("account_wait", 0.0)
                label = scenario.label + (f" (waited {waited:.1f} s for a TOTP step)" if waited > 0.2 else "")
                lines.append(
                    f"| {label} | {clients} | {m['p50']:.1f} | {m['p95']:.1f} | {m['p99']:.1f} | "
                    f"{m['rps']:.1f} | {_ratio(m['p50'], f.get('p50', math.nan))} | "
                    f"{_ratio(m['rps'], f.get('rps', math.nan))} | {m['errors']} | {m['n']} |"
                )
    failures = [
        f"{scenario.label} @ {size.cases:,}, {clients} clients: {m['error_kinds']}"
        for scenario in scenarios
        for size in sizes
        for clients, m in results[(scenario.key, size.cases)]["levels"].items()
        if m["errors"]
    ]
    if failures:
        lines += ["", "Errors: " + "; ".join(failures)]
    lines += ["", "Peak RSS (VmHWM) of each gunicorn worker, MiB, by scenario:", ""]
    lines += ["| scenario | " + " | ".join(f"{s.cases:,} cases" for s in sizes) + " |"]
    lines += ["| --- |" + " --- |" * len(sizes)]
    for scenario in scenarios:
        cells = [" / ".join(f"{r:.0f}" for r in results[(scenario.key, s.cases)]["rss"]) for s in sizes]
        lines.append(f"| {scenario.label} | " + " | ".join(cells) + " |")
    lines += ["", "| database | " + " | ".join(f"{s.cases:,} cases" for s in sizes) + " |"]
    lines += ["| --- |" + " --- |" * len(sizes)]
    lines.append("| size per case (KiB) | " + " | ".join(f"{s.bytes_per_case / 1024:.1f}" for s in sizes) + " |")
    lines.append("| seeding time (s) | " + " | ".join(f"{s.data['seed_seconds']:.0f}" for s in sizes) + " |")
    lines += ["", *targets(results, sizes, scenarios, args)]
    return lines


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _level(results: dict, key: str, size: Size, clients: int) -> dict:
    return results[(key, size.cases)]["levels"][clients]


def _scaling_rows(results: dict, sizes: list[Size], keys: set[str]) -> list[str]:
    small, large = sizes[0], sizes[-1]
    rows = []
    for key, label, limit in (
        ("followup_api", "Following up (API) costs the same at the largest size (p50, 1 client)", 1.2),
        ("followup_html", "Following up (HTML) costs the same at the largest size (p50, 1 client)", 1.2),
        (QUEUE_FIRST, "Queue first page at the largest size (p50, 1 client)", 1.5),
        (QUEUE_FILTERED, "Queue filtered page at the largest size (p50, 1 client)", 1.5),
    ):
        if key in keys and len(sizes) > 1:
            ratio = _level(results, key, large, 1)["p50"] / _level(results, key, small, 1)["p50"]
            rows.append(f"| {label} | ≤ {limit}x | {ratio:.2f}x | {_verdict(ratio <= limit)} |")
    return rows


def _raise_rows(results: dict, sizes: list[Size], keys: set[str]) -> list[str]:
    if not {"raise_api", "floor"} <= keys:
        return []
    rows = []
    for size in sizes:
        best = max(m["rps"] for m in results[("raise_api", size.cases)]["levels"].values())
        floor = max(m["rps"] for m in results[("floor", size.cases)]["levels"].values())
        rows.append(
            f"| Raising a concern (10 guardians + recovery), best req/s ÷ floor's best, {size.cases:,} cases "
            f"| ≥ 0.5 | {best / floor:.2f} ({best:.0f} vs {floor:.0f} req/s) | {_verdict(best / floor >= 0.5)} |"
        )
    return rows


def _sign_in_rows(results: dict, sizes: list[Size], keys: set[str], workers: int) -> list[str]:
    rows = []
    for key in ("sign_in", "sign_in_variant"):
        if key not in keys:
            continue
        for size in sizes:
            one, two = _level(results, key, size, 1)["rps"], _level(results, key, size, 2)["rps"]
            scale = two / one if one else math.nan
            ok = scale >= 1.7 and workers >= 2
            rows.append(
                f"| {key.replace('_', ' ')}: req/s at 2 clients ÷ at 1 ({workers} workers), "
                f"{size.cases:,} cases "
                f"| ≈ 2x (≥ 1.7) | {scale:.2f}x | {_verdict(ok)} |"
            )
    return rows


def _memory_rows(results: dict, sizes: list[Size], scenarios: list[Scenario]) -> list[str]:
    rows = []
    for scenario in scenarios:
        if scenario.server != "app":
            continue
        peak = max((r for s in sizes for r in results[(scenario.key, s.cases)]["rss"]), default=math.nan)
        errors = sum(
            m["errors"] for s in sizes for c, m in results[(scenario.key, s.cases)]["levels"].items() if c == 64
        )
        rows.append(
            f"| {scenario.label}: worker peak RSS < 120 MB; no errors at 64 clients "
            f"| < {RSS_LIMIT_MIB:.1f} MiB, 0 | {peak:.0f} MiB, {errors} errors "
            f"| {_verdict(peak < RSS_LIMIT_MIB and errors == 0)} |"
        )
    return rows


def targets(results: dict, sizes: list[Size], scenarios: list[Scenario], args: argparse.Namespace) -> list[str]:
    keys = {s.key for s in scenarios}
    rows = [
        *_scaling_rows(results, sizes, keys),
        *_raise_rows(results, sizes, keys),
        *_sign_in_rows(results, sizes, keys, args.workers),
        *_memory_rows(results, sizes, scenarios),
    ]
    return ["| target | wanted | measured | |", "| --- | --- | --- | --- |", *rows]


# --- Main ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    quick_default = os.environ.get("BENCH_QUICK", "") not in ("", "0")
    parser.add_argument("--quick", action="store_true", default=quick_default, help="small sizes, short runs")
    parser.add_argument("--sizes", type=int, nargs="+")
    parser.add_argument("--database-url", default=os.environ.get("SPEAKUP_BENCH_DATABASE_URL"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--duration", type=float, help="seconds measured per concurrency level")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per concurrency level")
    parser.add_argument("--only", nargs="+", help="scenario groups: followup queue case sign_in raise")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--keep", action="store_true", help="keep the databases and logs (printed path)")
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Speak Up setting changed for this run (as SPEAKUP_KEY), to measure a what-if; printed with the results",
    )
    args = parser.parse_args()
    args.sizes = args.sizes or ([200, 2000] if args.quick else [1000, 100000])
    args.duration = args.duration or (1.0 if args.quick else 5.0)
    args.warmup = args.warmup if args.warmup is not None else (0.3 if args.quick else 1.0)
    # Each account signs in at most twice at once, then once per 30 s (TOTP replay protection).
    pools = (40, 100) if args.quick else (160, 600)
    scenarios = [s for s in SCENARIOS if not args.only or s.group in args.only]

    started = time.perf_counter()
    load_before = os.getloadavg()
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"Speak Up benchmark on {backend}: {_machine()}", flush=True)
    print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}", flush=True)
    root = Path(tempfile.mkdtemp(prefix="speakup-bench-"))
    try:
        sizes = []
        for cases in args.sizes:
            workdir = root / str(cases)
            workdir.mkdir()
            url = (
                _postgres_url_for(args.database_url, cases)
                if args.database_url
                else f"sqlite:///{workdir}/speakup.sqlite"
            )
            sizes.append(Size(cases, url, base_env(url, workdir, args.workers, args.threads, args.setting), workdir))
        print("preparing:", flush=True)
        prepare_sizes(sizes, pools)
        if any(s.accounts == "guardians" for s in scenarios):
            for size in sizes:
                sign_in_guardians(size, args)
        results: dict = {}
        for scenario in scenarios:
            for size in sizes:
                results[(scenario.key, size.cases)] = run_scenario(scenario, size, args)
                levels = results[(scenario.key, size.cases)]["levels"]
                summary = ", ".join(
                    f"{c}: {m['p50']:.1f} ms {m['rps']:.0f}/s e{m['errors']}" for c, m in levels.items()
                )
                print(f"  {scenario.label} @ {size.cases:,}: {summary}", flush=True)
        load_after = os.getloadavg()
        lines = report(results, sizes, scenarios, args)
        print()
        print(f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {backend}, {_machine()}")
        print(
            f"gunicorn: {args.workers} workers x {args.threads} threads; {args.duration:g} s per level after "
            f"{args.warmup:g} s warm-up; load average before {load_before[0]:.2f}, after {load_after[0]:.2f}; "
            f"wall time {(time.perf_counter() - started) / 60:.1f} min"
            + (f"; settings changed: {', '.join(args.setting)}" if args.setting else "")
        )
        print("\n".join(lines))
        if args.json:
            serialisable = {f"{k[0]} @ {k[1]}": v for k, v in results.items()}
            args.json.write_text(json.dumps(serialisable, indent=1))
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
