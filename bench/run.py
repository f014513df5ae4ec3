"""Measured speed: Speak Up through gunicorn at 1,000 and 100,000 real encrypted cases, side by side
with the framework's floor. Run: `make bench` (or `python -m bench.run`; `--quick` or BENCH_QUICK=1
checks the harness in about two minutes with small sizes and short runs).

For each size it makes a fresh database (a SQLite file, or PostgreSQL when SPEAKUP_BENCH_DATABASE_URL
names a database called bench or bench_*), runs `flask speakup init`, creates 10 guardians and a pool
of staff for sign-in, and seeds real encrypted cases (bench/seed.py), the sizes in parallel. Then for
each scenario and size it starts gunicorn in production mode (secrets from the environment, production
Argon2, rate limits raised so they do not distort the figures), drives it from a separate load
generator process (bench/load.py) at 1, 16 and 64 concurrent clients, reads each worker's resting
memory (VmRSS once every worker has served a warm request, before the load) and its peak (VmHWM, after)
from /proc, and stops it. Two floors are served the same way against the same database: bench/floor.py
(bare Flask + SQLAlchemy storing the same bytes without encryption) and bench/sealed_floor.py (the same,
doing the sealing, the HPKE wraps and the one multi-row grant insert a raised concern does). Sizes
alternate within each scenario, so a change in the machine's load hits both alike. Results are printed
as Markdown for BENCHMARKS.md (bench/report.py), with PASS or MISS for each target.
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
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from bench import argon2_floor
from bench.report import QUEUE_FILTERED, QUEUE_FIRST, SEALED_FLOOR, Argon2, report
from bench.servers import PYTHON, ROOT, Server, base_env, column, database_bytes, fresh_postgres, postgres_url_for


@dataclass(frozen=True)
class Scenario:
    key: str  # what bench/load.py runs
    label: str
    server: str  # a key of bench.servers.SERVERS
    levels: tuple[int, ...]
    accounts: str = ""  # which accounts the load generator signs in with
    group: str = ""


LEVELS = (1, 16, 64)
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
    Scenario(SEALED_FLOOR, "floor: sealed + wrapped", SEALED_FLOOR, LEVELS, group="raise"),
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
    grants: dict[str, list[int]] = field(default_factory=dict)  # grants a concern: "app", SEALED_FLOOR


# Grants a raised concern got: the cases the app raised during the run (seeding writes no "raised" event), and
# every case of the sealed floor. One figure each when every concern was wrapped for the same recipients.
GRANTS_A_CONCERN = {
    "app": "SELECT DISTINCT n FROM (SELECT count(*) AS n FROM case_grants WHERE case_id IN "
    "(SELECT case_id FROM case_events WHERE kind = 'raised') GROUP BY case_id) AS per_case ORDER BY n",
    SEALED_FLOOR: "SELECT DISTINCT n FROM (SELECT count(*) AS n FROM bench_sealed_grants GROUP BY case_id) "
    "AS per_case ORDER BY n",
}


def count_grants(size: Size) -> None:
    size.grants = {which: [int(n) for n in column(size.url, sql)] for which, sql in GRANTS_A_CONCERN.items()}


def argon2_settings(size: Size) -> dict[str, Argon2]:
    """The Argon2 memory each sign-in pool derives with and the derivations a worker runs at once, as the run's
    servers read them: speakup/defaults.py, then SPEAKUP_* in their environment (--setting included)."""
    from speakup import defaults

    def setting(key: str) -> object:
        raw = size.env.get(f"SPEAKUP_{key}")
        if raw is None:
            return getattr(defaults, key)
        try:
            return json.loads(raw)  # as Flask's from_prefixed_env reads it
        except ValueError:
            return raw

    parallel = int(setting("ARGON2_PARALLEL_DERIVATIONS"))
    iterations, lanes = int(setting("ARGON2_ITERATIONS")), int(setting("ARGON2_LANES"))
    return {
        "sign_in": Argon2(int(setting("ARGON2_MEMORY_KIB")) / 1024, parallel, iterations, lanes),
        "sign_in_variant": Argon2(size.data["variant"][0] / 1024, parallel, iterations, lanes),
    }


def with_floors(argon2: dict[str, Argon2], keys: set[str]) -> dict[str, Argon2]:
    """Each sign-in pool's Argon2 floor, measured now, right after its sign-ins were (bench/argon2_floor.py)."""
    measured = {}
    for key, setting in argon2.items():
        if key in keys:
            floor = argon2_floor.ratio(int(setting.memory_mib * 1024), setting.iterations, setting.lanes)
            print(f"Argon2 floor for {key}: two at once = {floor:.2f}x one", flush=True)
            setting = replace(setting, floor=floor)
        measured[key] = setting
    return measured


# --- Preparing -------------------------------------------------------------------------------


def prepare_sizes(sizes: list[Size], pools: tuple[int, int]) -> None:
    for size in sizes:
        if size.url.startswith("postgresql"):
            fresh_postgres(size.url)
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
        size.bytes_per_case = database_bytes(size.url) / size.cases
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
    server = Server(size.env, size.workdir, "app", args.workers)
    try:
        server.wait_ready()
        job = {"url": server.url, "scenario": "sessions", "accounts": size.data["guardians"]}
        result = _load({**job, "last_steps": size.last_steps}, "guardian sign-in")
    finally:
        server.stop()
    size.sessions = result["sessions"]
    size.last_steps.update(result["last_steps"])


def run_scenario(scenario: Scenario, size: Size, args: argparse.Namespace) -> dict:
    server = Server(size.env, size.workdir, scenario.server, args.workers)
    try:
        server.wait_ready()
        server.warm()
        rest = server.memory("VmRSS")
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
        rss = server.memory("VmHWM")
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
    return {"levels": levels, "rss": rss, "rest": rest}


# --- Running ---------------------------------------------------------------------------------


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


def measure(scenarios: list[Scenario], sizes: list[Size], args: argparse.Namespace) -> dict:
    """Every scenario at every size, sizes alternating; then the grants each raised concern got."""
    if any(s.accounts == "guardians" for s in scenarios):
        for size in sizes:
            sign_in_guardians(size, args)
    results: dict = {}
    for scenario in scenarios:
        for size in sizes:
            results[(scenario.key, size.cases)] = run_scenario(scenario, size, args)
            levels = results[(scenario.key, size.cases)]["levels"]
            summary = ", ".join(f"{c}: {m['p50']:.1f} ms {m['rps']:.0f}/s e{m['errors']}" for c, m in levels.items())
            print(f"  {scenario.label} @ {size.cases:,}: {summary}", flush=True)
    if any(s.group == "raise" for s in scenarios):
        for size in sizes:
            count_grants(size)
    return results


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
                postgres_url_for(args.database_url, cases)
                if args.database_url
                else f"sqlite:///{workdir}/speakup.sqlite"
            )
            sizes.append(Size(cases, url, base_env(url, workdir, args.workers, args.threads, args.setting), workdir))
        print("preparing:", flush=True)
        prepare_sizes(sizes, pools)
        results = measure(scenarios, sizes, args)
        load_after = os.getloadavg()
        argon2 = argon2_settings(sizes[0])  # every size's servers have the same settings but the database
        argon2 = with_floors(argon2, {s.key for s in scenarios})
        lines = report(results, sizes, scenarios, args.workers, argon2)
        print()
        print(f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {backend}, {_machine()}")
        print(
            f"gunicorn: {args.workers} workers x {args.threads} threads; {args.duration:g} s per level after "
            f"{args.warmup:g} s warm-up; load average before {load_before[0]:.2f}, after {load_after[0]:.2f}; "
            f"wall time {(time.perf_counter() - started) / 60:.1f} min"
            + (f"; settings changed: {', '.join(args.setting)}" if args.setting else "")
        )
        print(
            f"Argon2id: {argon2['sign_in'].memory_mib:.0f} MiB (variant pool {argon2['sign_in_variant'].memory_mib:.0f}"
            f" MiB), ARGON2_PARALLEL_DERIVATIONS={argon2['sign_in'].parallel}"
        )
        print("\n".join(lines))
        if args.json:
            serialisable = {f"{k[0]} @ {k[1]}": v for k, v in results.items()}
            serialisable["grants a concern"] = {str(size.cases): size.grants for size in sizes}
            args.json.write_text(json.dumps(serialisable, indent=1))
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
