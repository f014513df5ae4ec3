"""After a rotation of the pepper, the OLD pepper opens only what existed at the rotation, unchanged (outside review).

Someone holding the old pepper (a leaked old environment file, the reason one rotates) and write access to the
database replays the reviewer's steps: an administrator account sealed under the old pepper inserted, or its sealed
columns copied over a real account; a statistics token and an enrolment link hashed under the old pepper inserted.
Each opens nothing. Enumerated: every stamped column of every stamped row changed opens nothing under the old
pepper, while the untouched rows from before the rotation still work."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import insert, select, update
from support.apps import TEST_CONFIG
from support.environment import read_environment_lines
from support.factories import PASSWORD, Staff, gen_admin, gen_concern, gen_staff
from support.html import AuthActions

from speakup import create_app
from speakup.crypto import password_keys, sealing, totp
from speakup.domain import characteristics, enrolment, staff
from speakup.keys import account_keys
from speakup.platform import clock, transactions
from speakup.platform.migrations import downgrade_schema, enable_migrations, upgrade_schema
from speakup.platform.models import Case, CharacteristicsAnswered, Enrolment, StatsToken, User, db
from speakup.reporting import stats_tokens

# What a sign-in reads to open an account's keys: all stamped, with the id (a swap of the public keys beside them is
# the roster's alarm, tests/web/test_trust_boundary.py).
STAMPED = ("password_salt", "private_key_ct", "totp_secret_ct", "signing_key_ct", "kdf_memory_kib", "kdf_iterations",
           "kdf_lanes", "kdf_peppered", "kdf_pepper_id")  # fmt: skip
SEALED = (*STAMPED, "public_key", "signing_public_key")


@pytest.fixture
def apps() -> Iterator[list[Flask]]:
    made: list[Flask] = []
    yield made
    for each in made:
        with each.app_context():
            db.session.remove()
            db.engine.dispose()


def _rotate(app: Flask, runner, tmp_path: Path, apps: list[Flask]) -> Flask:
    """`speakup rotate-pepper`, then the service started again with its two lines."""
    output = tmp_path / f"pepper-{len(apps)}.env"
    done = runner.invoke(args=["speakup", "rotate-pepper", "--output", str(output)])
    assert done.exit_code == 0, done.output
    lines = read_environment_lines(output.read_text())
    keep = ("SQLALCHEMY_DATABASE_URI", "ROSTER_ANCHOR_FILE", "ROSTER_ROOT")
    after = create_app({**TEST_CONFIG, **{key: app.config[key] for key in keep},
                        "RATELIMIT_ENABLED": False,  # the tests try many refused sign-ins on one account
                        "TOKEN_PEPPER": lines["SPEAKUP_TOKEN_PEPPER"],
                        "TOKEN_PEPPER_FALLBACKS": json.loads(lines["SPEAKUP_TOKEN_PEPPER_FALLBACKS"])})  # fmt: skip
    for key in ("TEST_RECOVERY_PRIVATE_KEY", "TEST_ROSTER_SIGNING_KEY"):
        after.config[key] = app.config[key]
    apps.append(after)
    return after


def _signs_in(app: Flask, person: Staff) -> bool:
    steps = person.steps_used
    answer = AuthActions(app.test_client()).sign_in(person)
    signed = answer.status_code == 303 and not answer.location.endswith("/guardian/sign-in")
    if not signed:
        person.steps_used = steps
    return signed


def _stamp_refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith("Pepper stamp invalid")]


def _sealed_on_a_copy(old_app: Flask) -> tuple[dict[str, Any], bytes]:
    """An account sealed under the old pepper, as the attacker makes it on a scratch copy with the old environment:
    a password and security code of their choosing."""
    with old_app.app_context():
        user = User(email="x@example.org", name="X", role="admin")
        secret = totp.new_totp_secret()
        keys = account_keys.new_account_keys()
        account_keys.seal_account(user, PASSWORD, account_keys.password_params(), keys, secret)
        assert user.kdf_pepper_id == sealing.pepper_id(old_app.config["TOKEN_PEPPER_BYTES"])
        return {column: getattr(user, column) for column in SEALED}, secret


def _user_row(app: Flask, user_id: int) -> dict[str, Any]:
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        return {column: getattr(user, column) for column in (*SEALED, "pepper_stamp")}


def _set_user(app: Flask, user_id: int, values: dict[str, Any]) -> None:
    with app.app_context():
        db.session.execute(update(User).where(User.id == user_id).values(**values))
        db.session.commit()


def test_an_account_forged_under_the_old_pepper_signs_in_as_nobody(app: Flask, runner, tmp_path, apps, caplog):
    ada = gen_admin(app)
    after = _rotate(app, runner, tmp_path, apps)
    columns, secret = _sealed_on_a_copy(app)
    # 1. Their own administrator, copied into the live database.
    with after.app_context():
        row = User(email="mallory@example.org", name="Mallory", role="admin", **columns)
        db.session.add(row)
        db.session.commit()
        mallory = Staff(row.id, row.email, PASSWORD, secret)
    caplog.clear()
    assert not _signs_in(after, mallory)
    assert [r.levelname for r in _stamp_refusals(caplog)] == ["ERROR"]
    # 2. The same sealed columns over the real administrator's row: not "Ada Admin" either.
    genuine = _user_row(after, ada.id)
    _set_user(after, ada.id, columns)
    assert not _signs_in(after, Staff(ada.id, ada.email, PASSWORD, secret))
    # Nor with the stamp the rotation gave Ada's row kept beside them.
    _set_user(after, ada.id, {**columns, "pepper_stamp": genuine["pepper_stamp"]})
    assert not _signs_in(after, Staff(ada.id, ada.email, PASSWORD, secret))
    # Ada's own row, put back, still signs in, and is sealed again under the new pepper, its stamp gone.
    _set_user(after, ada.id, genuine)
    assert _signs_in(after, ada)
    again = _user_row(after, ada.id)
    assert again["kdf_pepper_id"] == sealing.pepper_id(after.config["TOKEN_PEPPER_BYTES"])
    assert again["pepper_stamp"] is None
    assert _signs_in(after, ada)  # under the current pepper, no stamp is needed


def _changed(value: Any) -> Any:
    if isinstance(value, bytes):
        return value[:-1] + bytes([value[-1] ^ 1])
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return ("0" if value[0] != "0" else "1") + value[1:]
    raise AssertionError(value)


def test_every_stamped_column_of_an_account_changed_opens_nothing(app: Flask, runner, tmp_path, apps, caplog):
    guardian, ada = gen_staff(app), gen_admin(app)
    after = _rotate(app, runner, tmp_path, apps)
    genuine = {person.id: _user_row(after, person.id) for person in (guardian, ada)}
    assert all(row["pepper_stamp"] for row in genuine.values())
    for column in (*STAMPED, "pepper_stamp"):
        _set_user(after, ada.id, {column: _changed(genuine[ada.id][column])})
        caplog.clear()
        assert not _signs_in(after, ada), column
        # Refused by the stamp, not only by a key that no longer opens (the pepper id changed names no pepper).
        assert column == "kdf_pepper_id" or _stamp_refusals(caplog), column
        _set_user(after, ada.id, genuine[ada.id])
    # The id: the guardian's whole row (sealed columns and stamp) over Ada's, signed in with the guardian's secrets.
    _set_user(after, ada.id, genuine[guardian.id])
    caplog.clear()
    assert not _signs_in(after, Staff(ada.id, ada.email, guardian.password, guardian.totp_secret))
    assert _stamp_refusals(caplog), [r.getMessage() for r in caplog.records]
    _set_user(after, ada.id, genuine[ada.id])
    assert _signs_in(after, guardian) and _signs_in(after, ada)


def _stats(app: Flask, token: str) -> int:
    """401: the token opened nothing; anything else (200, or 422 for a quarter too small to show) it did."""
    answer = app.test_client().get("/api/v1/stats", headers={"Authorization": f"Bearer {token}"}).status_code
    return 401 if answer == 401 else 200


def test_a_stats_token_inserted_under_the_old_pepper_opens_nothing(app: Flask, runner, tmp_path, apps, caplog):
    old = app.config["TOKEN_PEPPER_BYTES"]
    with app.app_context():
        genuine_row, genuine = stats_tokens.create_stats_token("dashboard", old)
        genuine_id = genuine_row.id
        transactions.commit()
    after = _rotate(app, runner, tmp_path, apps)
    forged = secrets.token_urlsafe(32)
    with after.app_context():
        db.session.execute(insert(StatsToken).values(name="forged", token_hash=sealing.keyed_hash(
            old, forged, stats_tokens.TOKEN_PURPOSE), created_at=clock.utcnow()))  # fmt: skip
        db.session.commit()
        kept = {c: getattr(db.session.get(StatsToken, genuine_id), c) for c in ("name", "token_hash", "pepper_stamp")}
    caplog.clear()
    assert _stats(after, forged) == 401
    assert [r.levelname for r in _stamp_refusals(caplog)] == ["ERROR"]
    assert _stats(after, genuine) == 200
    # Every stamped column of the genuine row changed: it opens nothing; its stamp beside another hash neither.
    changes: list[dict[str, Any]] = [{column: _changed(kept[column])} for column in kept]
    changes += [{"id": genuine_id + 1000}]
    for change in changes:
        with after.app_context():
            db.session.execute(update(StatsToken).where(StatsToken.id == genuine_id).values(**change))
            db.session.commit()
        assert _stats(after, genuine) == 401 and _stats(after, forged) == 401, change
        with after.app_context():
            db.session.execute(update(StatsToken).where(StatsToken.name != "forged")
                               .values(id=genuine_id, **kept))  # fmt: skip
            db.session.commit()
    with after.app_context():  # the genuine row's stamp beside the forged hash
        forged_row = update(StatsToken).where(StatsToken.name == "forged")
        db.session.execute(forged_row.values(pepper_stamp=kept["pepper_stamp"]))
        db.session.commit()
    assert _stats(after, forged) == 401 and _stats(after, genuine) == 200
    with after.app_context():  # made under the current pepper: no stamp needed
        _row, new = stats_tokens.create_stats_token("after", after.config["TOKEN_PEPPER_BYTES"])
        transactions.commit()
    assert _stats(after, new) == 200


def test_an_enrolment_link_inserted_under_the_old_pepper_enrols_nobody(app: Flask, runner, tmp_path, apps, caplog):
    old = app.config["TOKEN_PEPPER_BYTES"]
    ada = gen_admin(app)
    with app.app_context():
        administrator = db.session.get_one(User, ada.id)
        link = staff.invite_user("newcomer@example.org", "New Comer", "admin", administrator).token
        victim = staff.invite_user("victim@example.org", "Vic Tim", "admin", administrator).user.id
        transactions.commit()
    after = _rotate(app, runner, tmp_path, apps)
    forged = secrets.token_urlsafe(32)
    with after.app_context():
        row = db.session.scalars(select(Enrolment).where(Enrolment.token_hash == sealing.keyed_hash(
            old, link, enrolment.TOKEN_PURPOSE))).one()  # fmt: skip
        genuine_id = row.id
        kept = {c: getattr(row, c) for c in ("user_id", "token_hash", "expires_at", "pepper_stamp")}
        db.session.execute(insert(Enrolment).values(user_id=victim, token_hash=sealing.keyed_hash(
            old, forged, enrolment.TOKEN_PURPOSE), created_at=clock.utcnow(),
            expires_at=clock.utcnow() + timedelta(hours=1)))  # fmt: skip
        db.session.commit()
    caplog.clear()
    with after.app_context(), pytest.raises(enrolment.LinkUnusable, match="unknown"):
        enrolment.open_link(forged)
    assert [r.levelname for r in _stamp_refusals(caplog)] == ["ERROR"]
    with after.app_context():
        assert enrolment.open_link(link).user.email == "newcomer@example.org"
    changes: list[dict[str, Any]] = [
        {"user_id": victim},
        {"token_hash": _changed(kept["token_hash"])},
        {"expires_at": kept["expires_at"] + timedelta(hours=1)},
        {"pepper_stamp": _changed(kept["pepper_stamp"])},
        {"id": genuine_id + 1000},
    ]
    for change in changes:
        with after.app_context():
            db.session.execute(update(Enrolment).where(Enrolment.id == genuine_id).values(**change))
            db.session.commit()
            with pytest.raises(enrolment.LinkUnusable, match="unknown"):
                enrolment.open_link(link)
            db.session.execute(update(Enrolment).where(Enrolment.id == genuine_id + 1000).values(id=genuine_id))
            db.session.execute(update(Enrolment).where(Enrolment.id == genuine_id).values(**kept))
            db.session.commit()
    with after.app_context():
        assert enrolment.open_link(link).user.email == "newcomer@example.org"


def test_a_second_rotation_stamps_only_what_the_first_vouched_for(app: Flask, runner, tmp_path, apps, caplog):
    """A row forged under the first pepper between two rotations is not made good by the second; the rows from
    before the first still open after both."""
    first = app.config["TOKEN_PEPPER_BYTES"]
    guardian = gen_staff(app)
    with app.app_context():
        _row, genuine = stats_tokens.create_stats_token("dashboard", first)
        transactions.commit()
    middle = _rotate(app, runner, tmp_path, apps)
    forged = secrets.token_urlsafe(32)
    columns, secret = _sealed_on_a_copy(app)
    with middle.app_context():
        db.session.execute(insert(StatsToken).values(name="forged", token_hash=sealing.keyed_hash(
            first, forged, stats_tokens.TOKEN_PURPOSE), created_at=clock.utcnow()))  # fmt: skip
        row = User(email="mallory@example.org", name="Mallory", role="admin", **columns)
        db.session.add(row)
        db.session.commit()
        mallory = Staff(row.id, row.email, PASSWORD, secret)
    last = _rotate(middle, middle.test_cli_runner(), tmp_path, apps)
    assert _stats(last, genuine) == 200
    assert _stats(last, forged) == 401
    assert not _signs_in(last, mallory)
    assert _signs_in(last, guardian)


def test_a_marker_inserted_under_the_old_pepper_is_not_carried_by_the_next_rotation(app: Flask, client, runner,
                                                                                    tmp_path, apps):  # fmt: skip
    """Which cases answered the questions about themselves: only the current pepper's markers are consulted, and a
    rotation re-keys only those, so one inserted under an old pepper between two rotations never comes to count."""
    first = app.config["TOKEN_PEPPER_BYTES"]
    raised = gen_concern(client)
    middle = _rotate(app, runner, tmp_path, apps)
    with middle.app_context():
        case_id = db.session.scalars(select(Case.id).where(Case.reference == raised["reference"])).one()
        db.session.add(CharacteristicsAnswered(lookup=sealing.keyed_hash(first, str(case_id),
                                                                          characteristics.MARKER_PURPOSE)))  # fmt: skip
        db.session.commit()
        assert not characteristics.answered(db.session.get_one(Case, case_id))
    last = _rotate(middle, middle.test_cli_runner(), tmp_path, apps)
    with last.app_context():
        assert not characteristics.answered(db.session.get_one(Case, case_id))


def _sealed_with_no_pepper(app: Flask) -> tuple[dict[str, Any], bytes]:
    """An account sealed as before the pepper joined the password (``kdf_peppered`` false): no secret needed."""
    with app.app_context():
        user = User(email="x@example.org", name="X", role="admin")
        secret = totp.new_totp_secret()
        cost = account_keys.password_params()
        legacy = password_keys.PasswordParams(cost.memory_kib, cost.iterations, cost.lanes, peppered=False)
        account_keys.seal_account(user, PASSWORD, legacy, account_keys.new_account_keys(), secret)
        assert not user.kdf_peppered
        return {column: getattr(user, column) for column in SEALED}, secret


def test_an_account_sealed_with_no_pepper_by_a_database_writer_signs_in_as_nobody(app: Flask, caplog):
    """The same door without any pepper: an account "from before the pepper" opens only where a stamp under the
    current pepper vouches for it (migration 0024 stamped those that existed)."""
    ada = gen_admin(app)
    columns, secret = _sealed_with_no_pepper(app)
    with app.app_context():
        row = User(email="mallory@example.org", name="Mallory", role="admin", **columns, pepper_stamp=None)
        db.session.add(row)
        db.session.commit()
        mallory = Staff(row.id, row.email, PASSWORD, secret)
    caplog.clear()
    assert not _signs_in(app, mallory)
    assert [r.levelname for r in _stamp_refusals(caplog)] == ["ERROR"]
    genuine = _user_row(app, ada.id)
    _set_user(app, ada.id, columns)
    assert not _signs_in(app, Staff(ada.id, ada.email, PASSWORD, secret))
    _set_user(app, ada.id, genuine)
    assert _signs_in(app, ada)


def test_the_upgrade_stamps_the_accounts_from_before_the_pepper_which_then_move_over(app: Flask):
    gita = gen_staff(app)
    with app.app_context():  # as a release before the pepper sealed it: the same keys, no secret
        user = db.session.get_one(User, gita.id)
        unlocked = account_keys.unlock_account(user, PASSWORD)
        cost = account_keys.password_params_of(user)
        legacy = password_keys.PasswordParams(cost.memory_kib, cost.iterations, cost.lanes, peppered=False)
        account_keys.seal_account(user, PASSWORD, legacy, unlocked.keys, unlocked.totp_secret)
        db.session.commit()
        enable_migrations(app)
        db.session.remove()
        downgrade_schema("0023")
        upgrade_schema()
        stamped = db.session.get_one(User, gita.id)
        assert not stamped.kdf_peppered and stamped.pepper_stamp
    assert _signs_in(app, gita)
    with app.app_context():
        moved = db.session.get_one(User, gita.id)
        assert moved.kdf_peppered and moved.pepper_stamp is None


def test_an_account_from_before_the_pepper_still_signs_in_after_two_rotations(app: Flask, runner, tmp_path, apps):
    gita = gen_staff(app)
    with app.app_context():  # as a release before the pepper sealed it, vouched for as migration 0024 does
        user = db.session.get_one(User, gita.id)
        unlocked = account_keys.unlock_account(user, PASSWORD)
        cost = account_keys.password_params_of(user)
        legacy = password_keys.PasswordParams(cost.memory_kib, cost.iterations, cost.lanes, peppered=False)
        account_keys.seal_account(user, PASSWORD, legacy, unlocked.keys, unlocked.totp_secret)
        db.session.commit()
    middle = _rotate(app, runner, tmp_path, apps)
    last = _rotate(middle, middle.test_cli_runner(), tmp_path, apps)
    assert not _user_row(last, gita.id)["kdf_peppered"]
    assert _signs_in(last, gita)
    moved = _user_row(last, gita.id)
    assert moved["kdf_pepper_id"] == sealing.pepper_id(last.config["TOKEN_PEPPER_BYTES"]) and not moved["pepper_stamp"]
