"""Prepares one benchmark database, after `flask speakup init` made the schema and recovery key.

Run by bench/run.py in its own process with the bench server's environment, so it sees the same
settings (production mode, the same secrets and pepper) as the gunicorn it will be measured through:
`python -m bench.prepare --size N --out accounts.json`.

It creates 10 guardians (every new concern is wrapped for each of them and the recovery key), a pool
of administrators for the sign-in benchmark (the same sign-in code as a guardian's, but an
administrator receives no case keys, so the pool does not change what raising a concern costs), seeds
N real encrypted cases, and writes, to a file only its owner can read, what the load generator needs
to act as these people: passwords, TOTP secrets and a sample of access codes. Nothing is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import time
from pathlib import Path

GUARDIANS = 10


def _create_accounts(prefix: str, role: str, count: int, key_file: Path | None = None) -> list[dict]:
    """Accounts as the command line makes them; guardians approved with the organisation key from ``key_file``,
    so the roster (and every new concern) holds all of them, as in a real installation."""
    from speakup.domain import staff
    from speakup.keys import approvals, recovery
    from speakup.platform.models import db

    secrets_file = recovery.read_recovery_file(key_file.read_text()) if key_file else None
    created = []
    for number in range(count):
        password = secrets.token_urlsafe(18)
        email = f"{prefix}{number}@bench.example.org"
        account = staff.create_user(email, f"Bench {role.title()} {prefix}{number}", role, password)
        if secrets_file is not None:
            approvals.approve_with_organisation_key(account.user, secrets_file, account.safety_code or "")
            db.session.commit()
        created.append(
            {
                "email": email,
                "password": password,
                "totp": account.totp_secret.hex() if account.totp_secret else None,
                "user_id": account.user.id,
                "public_key": account.user.public_key,
            }
        )
    return created


def prepare(
    size: int, out: Path, sign_in_pool: int, variant_pool: int, variant: tuple[int, int], key_file: Path
) -> None:
    from sqlalchemy import text

    from speakup import create_app
    from speakup.keys import recovery
    from speakup.platform.models import db

    from .floor import create_floor_table
    from .sealed_floor import create_sealed_floor_tables
    from .seed import seed_cases

    app = create_app()
    started = time.perf_counter()
    with app.app_context():
        guardians = _create_accounts("guardian", "guardian", GUARDIANS, key_file)
        sign_in = _create_accounts("signin", "admin", sign_in_pool)
        # The same pool again at a cheaper Argon2 setting: each account keeps the parameters it was
        # created with, so one server measures both.
        production = (app.config["ARGON2_MEMORY_KIB"], app.config["ARGON2_ITERATIONS"])
        app.config["ARGON2_MEMORY_KIB"], app.config["ARGON2_ITERATIONS"] = variant
        sign_in_variant = _create_accounts("signinv", "admin", variant_pool)
        app.config["ARGON2_MEMORY_KIB"], app.config["ARGON2_ITERATIONS"] = production
        accounts_seconds = time.perf_counter() - started
        started = time.perf_counter()
        sample = seed_cases(
            size,
            [(g["user_id"], g["public_key"]) for g in guardians],
            recovery.recovery_public_key(),
            app.config["TOKEN_PEPPER_BYTES"],
            sample=min(size, 400),
        )
        seed_seconds = time.perf_counter() - started
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        db.engine.dispose()
    create_floor_table(app.config["SQLALCHEMY_DATABASE_URI"])
    create_sealed_floor_tables(app.config["SQLALCHEMY_DATABASE_URI"])
    for group in (guardians, sign_in, sign_in_variant):
        for account in group:
            del account["public_key"]
    payload = {
        "size": size,
        "guardians": guardians,
        "sign_in": sign_in,
        "sign_in_variant": sign_in_variant,
        "variant": list(variant),
        "cases": [{"reference": ref, "code": code} for ref, code in sample],
        "accounts_seconds": accounts_seconds,
        "seed_seconds": seed_seconds,
    }
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(payload, handle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sign-in-pool", type=int, default=100)
    parser.add_argument("--variant-pool", type=int, default=100)
    parser.add_argument("--variant", type=int, nargs=2, default=[19456, 2], metavar=("MEMORY_KIB", "ITERATIONS"))
    parser.add_argument("--recovery-key-file", type=Path, required=True, help="the key file `speakup init` wrote")
    args = parser.parse_args()
    prepare(args.size, args.out, args.sign_in_pool, args.variant_pool, tuple(args.variant), args.recovery_key_file)


if __name__ == "__main__":
    main()
