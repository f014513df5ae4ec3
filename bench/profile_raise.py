"""Profiles raising a concern in process: `python -m bench.profile_raise [--concerns 300] [--sort tottime]`.

A throwaway SQLite file with the real migrations, a recovery key and 10 guardians; the Flask test client posts
the same concern to the API many times under cProfile, then again without it for the plain time per concern.
Nothing is written outside a temporary folder and no concern text is printed. BENCHMARKS.md records its
figures before and after each fix.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

GUARDIANS = 10
CONCERN = {"what_happened": "x" * 600, "where": "Ward 5", "when": "Tuesday night", "anonymity": "anonymous"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concerns", type=int, default=300)
    parser.add_argument("--sort", default="cumulative", help="a pstats sort key: cumulative, tottime, ...")
    parser.add_argument("--lines", type=int, default=40)
    args = parser.parse_args()

    from speakup import create_app
    from speakup.domain.staff import create_user
    from speakup.keys import approvals, recovery, roster_log
    from speakup.platform.migrations import upgrade_schema
    from speakup.platform.models import db

    folder = Path(tempfile.mkdtemp(prefix="speakup-profile-"))
    app = create_app(
        {
            "ENVIRONMENT": "testing",
            "SECRET_KEY": "profile-only",
            "TOKEN_PEPPER": "profile-only",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'profile.sqlite'}",
            "ARGON2_MEMORY_KIB": 64,  # accounts are made, never signed in to here
            "ARGON2_ITERATIONS": 1,
            "SUBMIT_RATE_LIMIT": "1000000 per minute",
        }
    )
    with app.app_context():
        upgrade_schema()
        recovery_row, recovery_key = recovery.create_recovery_key()
        _row, signing_key = recovery.create_roster_key()
        roster_log.checkpoint(signing_key, recovery_row.public_key, [])
        db.session.commit()
        organisation = recovery.OrganisationSecrets(recovery_key, signing_key)
        for number in range(GUARDIANS):
            account = create_user(f"guardian{number}@example.org", f"Guardian {number}", "guardian", "a long test pw")
            # On the roster, as in production.
            approvals.approve_with_organisation_key(account.user, organisation, account.safety_code or "")
            db.session.commit()
    client = app.test_client()
    for _ in range(20):  # warm up: first requests compile templates, queries and caches
        assert client.post("/api/v1/concerns", json=CONCERN).status_code == 201

    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    for _ in range(args.concerns):
        client.post("/api/v1/concerns", json=CONCERN)
    profile.disable()
    profiled = (time.perf_counter() - started) / args.concerns
    started = time.perf_counter()
    for _ in range(args.concerns):
        client.post("/api/v1/concerns", json=CONCERN)
    plain = (time.perf_counter() - started) / args.concerns
    print(f"{plain * 1000:.2f} ms a concern ({profiled * 1000:.2f} ms under cProfile), {GUARDIANS} guardians")
    pstats.Stats(profile).sort_stats(args.sort).print_stats(args.lines)


if __name__ == "__main__":
    main()
