"""The guardian queue at 1,000 and at 100,000 cases: does the first page (and a filtered page)
stay as fast? Run: `make bench-queue` (or `python -m bench.queue_bench --sizes 1000 100000`).

Each size gets a fresh database (SQLite file, or PostgreSQL with --database-url), real encrypted
cases (bench/seed.py), and a signed-in guardian; each page is then fetched through the Flask app
many times and the median and 95th percentile are reported, with the ratio to the smallest size.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

PAGES = {
    "first page": "/guardian/",
    "filtered: in progress + patient safety": "/guardian/?status=in_progress&theme=patient_safety",
    "filtered: assigned to me + overdue": "/guardian/?assigned=me&due=overdue",
    "page 5": "/guardian/?page=5",
}


def _fresh_database(url: str | None, workdir: Path, size: int) -> str:
    if url is None:
        return f"sqlite:///{workdir}/queue-{size}.sqlite"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def run_size(size: int, database_url: str, repeats: int) -> dict[str, tuple[float, float]]:
    from conftest import TEST_CONFIG, AuthActions, gen_staff
    from flask_migrate import upgrade

    from speakup import create_app, keyring
    from speakup.models import User, db

    from .seed import seed_cases

    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url, "RATELIMIT_ENABLED": False})
    with app.app_context():
        upgrade()
        keyring.create_recovery_key()
        db.session.commit()
    guardian = gen_staff(app, email="bench@example.org")
    gen_staff(app, email="colleague@example.org", name="Colin Colleague")
    with app.app_context():
        guardians = [(u.id, u.public_key) for u in db.session.scalars(db.select(User))]
        started = time.perf_counter()
        seed_cases(size, guardians, keyring.recovery_public_key(), app.config["TOKEN_PEPPER_BYTES"])
        print(f"  seeded {size:,} cases in {time.perf_counter() - started:.1f}s", flush=True)
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE"))
        else:
            db.session.execute(text("ANALYZE"))
        db.session.commit()
    client = app.test_client()
    assert AuthActions(client).sign_in(guardian).status_code == 302
    results = {}
    for name, url in PAGES.items():
        for _ in range(5):  # warm caches and the connection pool
            assert client.get(url).status_code == 200
        timings = []
        for _ in range(repeats):
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        timings.sort()
        results[name] = (statistics.median(timings), timings[int(len(timings) * 0.95) - 1])
    with app.app_context():
        db.engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100000])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SPEAKUP_BENCH_DATABASE_URL"),
        help="PostgreSQL URL (its public schema is wiped); SQLite files when omitted",
    )
    parser.add_argument("--repeats", type=int, default=100)
    args = parser.parse_args()
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"Queue benchmark on {backend}: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    all_results = {}
    with tempfile.TemporaryDirectory() as workdir:
        for size in args.sizes:
            print(f"{size:,} cases:", flush=True)
            all_results[size] = run_size(size, _fresh_database(args.database_url, Path(workdir), size), args.repeats)
    base = args.sizes[0]
    print()
    print(f"| page ({backend}) | " + " | ".join(f"{s:,} cases p50 / p95 (ms)" for s in args.sizes) + " | ratio p50 |")
    print("| --- | " + " | ".join("---" for _ in args.sizes) + " | --- |")
    for name in PAGES:
        cells = [f"{all_results[s][name][0]:.1f} / {all_results[s][name][1]:.1f}" for s in args.sizes]
        ratio = all_results[args.sizes[-1]][name][0] / all_results[base][name][0]
        print(f"| {name} | " + " | ".join(cells) + f" | {ratio:.2f}x |")
    print(f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {args.repeats} requests per page, in-process Flask test client")


if __name__ == "__main__":
    main()
