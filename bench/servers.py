"""Databases and gunicorn servers for bench/run.py: a fresh database per size, a server per scenario, and what
/proc says about its workers' memory."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.report import SEALED_FLOOR
from tests.support import processes

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

# What gunicorn serves for each kind of server, and the page each worker serves before the load (its resting memory
# is read after): Speak Up's sign-in form renders a template and opens a session; the floors' /healthz reads the
# database.
SERVERS = {
    "app": ("wsgi:app", "/guardian/sign-in"),
    "floor": ("bench.floor:app", "/healthz"),
    SEALED_FLOOR: ("bench.sealed_floor:create_sealed_floor_app()", "/healthz"),
}

# --- Databases ---------------------------------------------------------------------------------


def postgres_url_for(base_url: str, size: int) -> str:
    parts = urlsplit(base_url)
    name = parts.path.lstrip("/")
    host = parts.hostname or ""
    # This benchmark wipes what it uses: never anything but a bench database on this machine.
    if not (name == "bench" or name.startswith("bench_")) or host not in ("127.0.0.1", "localhost"):
        raise SystemExit("SPEAKUP_BENCH_DATABASE_URL must name a database bench or bench_* on 127.0.0.1")
    scheme = "postgresql+psycopg"
    return urlunsplit((scheme, parts.netloc, f"/{name}_{size}", "", ""))


def fresh_postgres(url: str) -> None:
    parts = urlsplit(url)
    processes.empty_postgres_database(
        urlunsplit(("postgresql", parts.netloc, "/bench", "", "")), parts.path.lstrip("/")
    )


def database_bytes(url: str) -> int:
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


def column(url: str, sql: str) -> list:
    """The first column of a query's rows, on SQLite or PostgreSQL."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            rows = conn.execute(sql).fetchall()
        conn.close()
        return [row[0] for row in rows]
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))) as conn:
        return [row[0] for row in conn.execute(sql).fetchall()]


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


def _memory_mib(pid: int, field: str = "VmHWM") -> float | None:
    """VmHWM: the most resident memory the process has had since it started; VmRSS: what it holds now."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _threads(pid: int) -> int:
    """A gthread worker starts its request threads on its first request: more than one thread means it has served."""
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


class Server:
    """gunicorn serving ``kind`` (a key of SERVERS) with the bench environment ``env``, its log in ``workdir``."""

    def __init__(self, env: dict[str, str], workdir: Path, kind: str, workers: int):
        self.port = processes.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**env, "SPEAKUP_BIND": f"127.0.0.1:{self.port}"}
        target, self.warm_path = SERVERS[kind]
        self.output = workdir / f"gunicorn-{kind}.log"
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
                # The warm-up page, so whatever a worker serves before its resting memory is read is that page.
                with urllib.request.urlopen(self.url + self.warm_path, timeout=2) as answer:  # noqa: S310 - loopback
                    if answer.status == 200 and len(_children(self.process.pid)) >= self.workers:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise SystemExit(f"gunicorn did not become ready; see {self.output}")

    def warm(self, most: int = 200) -> None:
        """Sends the warm-up page, each time on a new connection, until every worker has served it (the kernel
        hands each connection to whichever worker accepts first), then lets the answers finish."""
        for _ in range(most):
            if all(_threads(pid) > 1 for pid in _children(self.process.pid)):
                break
            with urllib.request.urlopen(self.url + self.warm_path, timeout=10) as answer:  # noqa: S310 - loopback
                answer.read()
        else:
            raise SystemExit(f"a worker served none of {most} warm-up requests; see {self.output}")
        time.sleep(0.3)

    def memory(self, field: str) -> list[float]:
        """Each worker's VmHWM or VmRSS, in the order of their process ids."""
        pids = sorted(_children(self.process.pid))
        return [rss for pid in pids if (rss := _memory_mib(pid, field)) is not None]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
