"""The benchmark's sealed floor does a raised concern's cryptography with Speak Up's own primitives, and its report
judges the targets bench/report.py writes out."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from sqlalchemy import event, select

from bench import report, sealed_floor
from bench.sealed_floor import Recipients, SealedCase, SealedGrant, create_sealed_floor_app, db
from speakup.crypto import access_codes, kem, labels, sealing
from speakup.keys.grants import wrap_new_case_key

CONCERN = {
    "what_happened": "The checks were skipped.",
    "where": "Ward 7",
    "when": "Last night",
    "anonymity": "anonymous",
}


@pytest.fixture
def keys():
    return {user_id: kem.generate_keypair() for user_id in (3, 5, 8)}, kem.generate_keypair()


@pytest.fixture
def floor(tmp_path, keys):
    guardians, recovery = keys
    recipients = Recipients(tuple((uid, pair.public_bytes) for uid, pair in guardians.items()), recovery.public_bytes)
    uri = f"sqlite:///{tmp_path / 'floor.sqlite'}"
    sealed_floor.create_sealed_floor_tables(uri)
    app = create_sealed_floor_app(uri, recipients=lambda: recipients)
    yield app
    with app.app_context():
        db.engine.dispose()


def _one_case(app):
    with app.app_context():
        case = db.session.scalars(select(SealedCase)).one()
        grants = list(db.session.scalars(select(SealedGrant).where(SealedGrant.case_id == case.id)))
        db.session.expunge_all()
    return case, grants


def test_the_sealed_floor_seals_and_wraps_as_a_raise_does(floor, keys):
    guardians, recovery = keys
    answer = floor.test_client().post("/sealed-floor", json=CONCERN)
    assert answer.status_code == 201
    code = access_codes.normalise_access_code(answer.get_json()["access_code"])
    case, grants = _one_case(floor)
    by_recipient = {(g.recipient, g.user_id): g for g in grants}
    assert set(by_recipient) == {("guardian", uid) for uid in guardians} | {("recovery", None), ("reporter", None)}
    case_key = kem.unwrap_case_key(by_recipient[("recovery", None)].wrapped_key, recovery.private_bytes, case.id)
    for uid, pair in guardians.items():
        assert kem.unwrap_case_key(by_recipient[("guardian", uid)].wrapped_key, pair.private_bytes, case.id) == case_key
    reporter = by_recipient[("reporter", None)]
    code_key = access_codes.access_code_key(code, reporter.salt, case.id)
    aad = labels.reporter_grant(case.id)
    assert sealing.open_sealed(code_key, reporter.wrapped_key, aad) == case_key
    words = sealing.open_text(case_key, case.concern_ct, labels.concern(case.id))
    sealed = {k: CONCERN[k] for k in ("what_happened", "where", "when")}
    # The reference and the anonymity are sealed with the words.
    assert json.loads(words) == {**sealed, "reference": case.reference, "anonymity": "anonymous"}
    assert case.identity_ct is None


def test_the_sealed_floor_writes_the_grants_the_app_writes_in_one_multi_row_insert(floor, keys):
    guardians, recovery = keys
    statements = []
    with floor.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    named = {**CONCERN, "anonymity": "named", "name": "A Nurse"}
    assert floor.test_client().post("/sealed-floor", json=named).status_code == 201
    case, grants = _one_case(floor)
    assert case.identity_ct is not None
    roster = [SimpleNamespace(id=uid, public_key=pair.public_bytes) for uid, pair in guardians.items()]
    code = access_codes.normalise_access_code(access_codes.new_access_code())
    app_rows = wrap_new_case_key(1, sealing.new_case_key(), roster, recovery.public_bytes, code)
    assert sorted((g.recipient, g.user_id or 0) for g in grants) == sorted(
        (r["recipient"], r["user_id"] or 0) for r in app_rows
    )
    assert len([s for s in statements if s.startswith("INSERT INTO bench_sealed_grants")]) == 1


def _results(rest: list[float], peak: list[float]) -> dict:
    level = {"rps": 1.0, "p50": 1.0, "p95": 1.0, "p99": 1.0, "errors": 0, "n": 1, "error_kinds": {}}
    return {("sign_in", 1000): {"levels": {1: level, 2: level, 64: level}, "rest": rest, "rss": peak}}


@pytest.mark.parametrize(
    ("rest", "peak", "verdicts"),
    [
        ([70.0, 72.0], [210.0, 160.0], ["PASS", "PASS"]),  # (70 + 2 x 64) x 1.1 = 217.8
        ([70.0, 72.0], [218.0, 160.0], ["PASS", "MISS"]),
        ([101.0, 72.0], [150.0, 150.0], ["MISS", "PASS"]),
    ],
)
def test_memory_targets_read_resting_plus_the_derivations_allowed(rest, peak, verdicts):
    scenario = SimpleNamespace(key="sign_in", label="sign-in", server="app")
    sizes = [SimpleNamespace(cases=1000)]
    argon2 = {"sign_in": report.Argon2(memory_mib=64, parallel=2)}
    rows = [
        row
        for row in report.targets(_results(rest, peak), sizes, [scenario], 2, argon2)
        if row.startswith(("| Resting", "| sign-in: worker peak"))
    ]
    assert [row.rstrip(" |").rsplit("| ", 1)[1] for row in rows] == verdicts
