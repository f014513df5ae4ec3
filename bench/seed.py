"""Seeds a Speak Up database with real encrypted cases, fast enough for 100,000.

Every case gets its own case key, its concern sealed under it, HPKE grants for each guardian and
the recovery key, and a reporter grant under a real access code: the same rows raise_concern
writes, made by the same functions (raising.seal_concern, grants.wrap_new_case_key), inserted in bulk.
Seeding runs in several processes (the crypto is the slow part).
"""

from __future__ import annotations

import random
import secrets
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from typing import NamedTuple

from speakup.crypto import access_codes, sealing
from speakup.domain import deadlines, raising
from speakup.domain.categories import ANONYMITY, lists_for
from speakup.domain.raising import ConcernInput
from speakup.keys.grants import wrap_new_case_key
from speakup.platform import clock
from speakup.platform.models import Case, CaseGrant, CaseTheme, db


class Guardian(NamedTuple):
    """A guardian as the wrapping functions take one (a roster member's id and public key)."""

    id: int
    public_key: bytes


STATUSES = ["received", "acknowledged", "in_progress", "awaiting_reporter", "referred", "closed"]


def _make_batch(
    args: tuple[int, int, list[tuple[int, bytes]], bytes, bytes, int, int],
) -> tuple[list, list, list, list[tuple[str, str]]]:
    """Builds rows for case ids [start, start+count): pure computation, run in worker processes.
    Also returns ``keep`` (reference, access code) pairs picked at random, for benchmarks to follow up."""
    start, count, guardians, recovery_public, pepper, seed, keep = args
    rng = random.Random(seed)
    kept_ids = set(rng.sample(range(start, start + count), min(keep, count)))
    kept: list[tuple[str, str]] = []
    now = clock.utcnow()
    lists = lists_for(now.date())
    themes, groups = list(lists.themes), list(lists.worker_groups)
    cases, grants, case_themes = [], [], []
    recipients = [Guardian(user_id, public_key) for user_id, public_key in guardians]
    for case_id in range(start, start + count):
        created = now - timedelta(days=rng.randint(0, 365), minutes=rng.randint(0, 1440))
        status = rng.choice(STATUSES)
        ack_by, fb_by = deadlines.acknowledge_by(created, 7), deadlines.feedback_by(created, 90)
        case_key = sealing.new_case_key()
        code = access_codes.normalise_access_code(access_codes.new_access_code())
        if case_id in kept_ids:
            kept.append((f"SU-B{case_id:07d}", code))
        anonymity = rng.choice(ANONYMITY)
        concern = ConcernInput(
            what_happened=f"Seeded concern {case_id} " + "x" * 400,
            anonymity=anonymity,
            name="" if anonymity == "anonymous" else f"Seeded reporter {case_id}",
        )
        concern_ct, identity_ct = raising.seal_concern(case_id, f"SU-B{case_id:07d}", case_key, concern)
        cases.append(
            {
                "id": case_id,
                "reference": f"SU-B{case_id:07d}",
                "access_lookup_id": access_codes.access_code_lookup_id(pepper, code),
                "status": status,
                "anonymity": anonymity,
                "worker_group": rng.choice(groups),
                "created_at": created,
                "updated_at": created,
                "acknowledge_by": ack_by,
                "feedback_by": fb_by,
                "next_due": deadlines.next_due(status, ack_by, fb_by),
                "closed_at": created + timedelta(days=30) if status == "closed" else None,
                "assigned_to_id": rng.choice([None] + [g for g, _ in guardians]),
                "concern_ct": concern_ct,
                "identity_ct": identity_ct,
                "protocol": sealing.PROTOCOL,
                "version": 1,
            }
        )
        # The same rows raise_concern writes: the project's own wrapping, dated as the case is.
        rows = wrap_new_case_key(case_id, case_key, recipients, recovery_public, code)
        grants.extend({**row, "created_at": created} for row in rows)
        for theme in rng.sample(themes, rng.randint(0, 2)):
            case_themes.append({"case_id": case_id, "theme": theme})
    return cases, grants, case_themes, kept


def seed_cases(
    count: int,
    guardians: list[tuple[int, bytes]],
    recovery_public: bytes,
    pepper: bytes,
    batch: int = 2000,
    processes: int = 2,
    sample: int = 0,
) -> list[tuple[str, str]]:
    """Inserts ``count`` cases after any already there. Call inside an app context.

    Returns about ``sample`` (reference, access code) pairs spread over the whole id range, so a
    benchmark's lookups land all over the indexes rather than on the newest rows only."""
    first = (db.session.scalar(db.select(db.func.max(Case.id))) or 0) + 1
    starts = range(first, first + count, batch)
    keep = -(-sample // len(starts)) if sample and starts else 0
    jobs = [
        (start, min(batch, first + count - start), guardians, recovery_public, pepper, secrets.randbits(32), keep)
        for start in starts
    ]
    sampled: list[tuple[str, str]] = []
    with ProcessPoolExecutor(processes) as pool:
        for cases, grants, themes, kept in pool.map(_make_batch, jobs):
            sampled.extend(kept)
            db.session.execute(db.insert(Case), cases)
            db.session.execute(db.insert(CaseGrant), grants)
            if themes:
                db.session.execute(db.insert(CaseTheme), themes)
            db.session.commit()
    if db.engine.dialect.name == "postgresql":
        # Explicit ids leave the sequence behind; move it on so the app's own inserts do not collide.
        db.session.execute(db.text("SELECT setval('cases_id_seq', (SELECT max(id) FROM cases))"))
        db.session.commit()
    return sampled
