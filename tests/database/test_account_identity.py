"""Who a staff account is rests on nothing a database writer can move (outside review r4, F2 and F3).

The reviewer, with write access to the database: swapped `users.id` between a pending guardian and the administrator
and kept a live session as the administrator; set `role='admin'` on a guardian's row; copied one account's sealed
credential columns onto an administrator's row and signed in as them with the other account's password; set
`is_active=true` on a disabled administrator; and swapped ids while enrolling through an unused link, which wrote the
attacker's credentials into the administrator's row. Enumerated here: every column of `users` (read from the schema)
copied from each account to each other, id swaps between each pair, every credential column copied at once. After
each, nobody signs in, or keeps a session, as an account other than their own, and nobody gains the administrator
role."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, text, update
from support.apps import TEST_CONFIG
from support.environment import read_environment_lines
from support.factories import PASSWORD, Staff, enrolment_path, gen_admin, gen_staff
from support.html import post_form, signed_in

from speakup import create_app
from speakup.crypto import labels, sealing, totp
from speakup.domain import browser_sessions, enrolment, staff
from speakup.keys import account_identity, account_keys
from speakup.platform import clock, transactions
from speakup.platform.migrations import downgrade_schema, enable_migrations, upgrade_schema
from speakup.platform.models import StaffSession, User, db

# What a person is, and what only the service may change: never copied as such (the id is swapped instead).
IDENTITY = ("id",)
# What a sign-in reads to let someone be an account, besides who it is.
CREDENTIALS = tuple(
    column.name
    for column in User.__table__.columns
    if column.name not in ("id", "email", "name", "role", "is_active", "created_at")
)


@dataclass
class Person:
    name: str
    staff: Staff
    admin_by_right: bool  # made an administrator by the service
    active_by_right: bool = True  # not disabled by the service


def _code(person: Person) -> str:
    """A security code the account has not used yet (a refused sign-in keeps none)."""
    secret = person.staff.totp_secret
    with_step = db.session.scalar(db.select(User.totp_last_step).where(User.id == person.staff.id))
    at = max(clock.timestamp(), ((with_step or 0) + 1) * totp.TOTP_STEP)
    return totp.totp_now(secret, at) if secret else ""


def _columns(app: Flask) -> dict[int, dict[str, Any]]:
    with app.app_context():
        return {
            user.id: {column.name: getattr(user, column.name) for column in User.__table__.columns}
            for user in db.session.scalars(db.select(User))
        }


def _put_back(app: Flask, rows: dict[int, dict[str, Any]]) -> None:
    with app.app_context():
        for user_id in rows:  # out of the way of the unique address first
            db.session.execute(update(User).where(User.id == user_id).values(email=f"moving-{user_id}@example.org"))
        for user_id, values in rows.items():
            db.session.execute(update(User).where(User.id == user_id).values(**values))
        db.session.commit()


@contextmanager
def _writer(app: Flask) -> Iterator[Any]:
    """One transaction of a database writer, who has turned off the foreign keys where the database has them on
    (PostgreSQL: `session_replication_role=replica`, as the reviewer did)."""
    with app.app_context():
        connection = db.session.connection()
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        yield connection
        db.session.commit()


def _swap(app: Flask, first: int, second: int, *columns: str) -> None:
    """Swaps the ids of two accounts (and ``columns`` back, so those stay with the id)."""
    rows = _columns(app)
    with _writer(app) as connection:
        connection.execute(update(User).where(User.id == first).values(id=-1, email="swap-1@example.org"))
        connection.execute(update(User).where(User.id == second).values(id=first, email="swap-2@example.org"))
        connection.execute(update(User).where(User.id == -1).values(id=second))
        emails = {first: rows[second]["email"], second: rows[first]["email"]}
        for user_id, other in ((first, second), (second, first)):
            kept = {column: rows[other if column not in columns else user_id][column] for column in columns}
            values = {"email": rows[user_id]["email"] if "email" in columns else emails[user_id], **kept}
            connection.execute(update(User).where(User.id == user_id).values(**values))


def _copy(app: Flask, source: int, target: int, columns: tuple[str, ...]) -> None:
    rows = _columns(app)
    values = {column: rows[source][column] for column in columns}
    with _writer(app) as connection:
        if "email" in values:  # unique: the two swap addresses
            connection.execute(update(User).where(User.id == source).values(email=rows[target]["email"] + ".x"))
        connection.execute(update(User).where(User.id == target).values(**values))
        if "email" in values:
            connection.execute(update(User).where(User.id == source).values(email=rows[target]["email"]))


def _browser(app: Flask, person: Person) -> FlaskClient | None:
    """A live session of ``person``'s, made as the sign-in page makes one (without spending a security code)."""
    if not person.active_by_right:
        return None
    with app.app_context():
        user = db.session.get_one(User, person.staff.id)
        unlocked = account_keys.unlock_account(user, person.staff.password)
        row, key = browser_sessions.start_staff_session(user, unlocked.keys)
        session_id = row.id
        db.session.commit()
    browser = app.test_client()
    with browser.session_transaction() as cookie:
        cookie.update({"_user_id": session_id, "_fresh": True, "staff_key": key})
    return browser


def _browsers(app: Flask, people: list[Person]) -> dict[str, FlaskClient | None]:
    return {person.name: _browser(app, person) for person in people}


def _changed_rows(before: dict[int, dict[str, Any]], after: dict[int, dict[str, Any]]) -> set[int]:
    return {user_id for user_id in before if before[user_id] != after.get(user_id)}


def _acts_as(app: Flask, browser: FlaskClient) -> tuple[str, str] | None:
    """Whose account a browser's session acts as (its address and role), or None when it is signed out."""
    answer = browser.get("/guardian/")
    if answer.status_code in (302, 303):
        return None
    admin = browser.get("/admin/").status_code == 200
    with browser.session_transaction() as cookie:
        session_id = cookie.get("_user_id")
    if session_id is None:
        return None
    with app.app_context():
        row = db.session.get(StaffSession, session_id)
        assert row is not None, "a session that opened has its row"
        return row.user.email, "admin" if admin else row.user.role


def _signs_in_as(app: Flask, person: Person, email: str) -> tuple[int, str] | None:
    """The account (id, role) ``person`` is signed in as with their own password and security code typed with
    ``email``, or None when refused. Nothing is kept (the security code may be used again)."""
    with app.app_context():
        try:
            user, _keys = staff.sign_in(email, person.staff.password, _code(person))
            found = (user.id, user.role)
        except (staff.InvalidCredentials, staff.KeysChanged):
            found = None
        db.session.rollback()
        return found


def _breaches(
    app: Flask, people: list[Person], emails: dict[int, str], browsers: dict[str, FlaskClient | None]
) -> list[str]:
    """Everyone being someone else, or an administrator without being one by right, after a change to the rows of
    ``emails`` (by id): with the sessions they had before it (``browsers``), and signing in with their own password
    and security code as each of those accounts."""
    found = []
    for person in people:
        own = (emails.get(person.staff.id), "admin" if person.admin_by_right else "guardian")
        browser = browsers.get(person.name)
        acting = _acts_as(app, browser) if browser is not None else None
        if acting is not None and (acting[0] != own[0] or (acting[1] == "admin") != person.admin_by_right):
            found.append(f"{person.name}'s session acts as {acting}")
        for email in emails.values():
            signed = _signs_in_as(app, person, email)
            if signed is None:
                continue
            if not person.active_by_right or email != own[0] or signed[0] != person.staff.id:
                found.append(f"{person.name} signs in as {email} (account {signed[0]})")
            elif (signed[1] == "admin") != person.admin_by_right:
                found.append(f"{person.name} signs in with the role {signed[1]}")
    return found


def _cast(app: Flask) -> list[Person]:
    """An administrator, an approved guardian, a pending guardian and an administrator disabled by the service."""
    ada = Person("ada", gen_admin(app), admin_by_right=True)
    gita = Person("gita", gen_staff(app), admin_by_right=False)
    mallory = Person("mallory", gen_staff(app, "mallory@example.org", name="Mallory", approved=False), False)
    carol = Person("carol", gen_admin(app, "carol@example.org", "Carol Admin"), admin_by_right=True)
    with app.app_context(), transactions.unit_of_work():
        staff.set_active(db.session.get_one(User, carol.staff.id), False, db.session.get_one(User, ada.staff.id))
    carol.active_by_right = False
    return [ada, gita, mallory, carol]


def _changes(people: list[Person]) -> Iterator[tuple[str, Any]]:
    ids = {person.name: person.staff.id for person in people}
    pairs = [(a, b) for a in ids for b in ids if a != b]
    for column in User.__table__.columns:
        if column.name not in IDENTITY:
            for source, target in pairs:
                yield f"{column.name} of {source} onto {target}", ("copy", ids[source], ids[target], (column.name,))
    for source, target in pairs:
        yield f"every credential column of {source} onto {target}", ("copy", ids[source], ids[target], CREDENTIALS)
        everything = tuple(c.name for c in User.__table__.columns if c.name not in ("id", "email"))
        yield f"everything but the id and address of {source} onto {target}", ("copy", ids[source], ids[target],
                                                                              everything)  # fmt: skip
    for source, target in pairs:
        if source < target:
            yield f"ids of {source} and {target}", ("swap", ids[source], ids[target], ())
            yield f"ids and addresses of {source} and {target}", ("swap", ids[source], ids[target], ("email",))
            yield f"ids, addresses and roles of {source} and {target}", ("swap", ids[source], ids[target],
                                                                          ("email", "role"))  # fmt: skip


def test_no_change_to_the_users_table_makes_anyone_another_account_or_an_administrator(app: Flask) -> None:
    app.config["RATELIMIT_ENABLED"] = False
    people = _cast(app)
    genuine = _columns(app)
    emails = {user_id: row["email"] for user_id, row in genuine.items()}
    assert _breaches(app, people, emails, _browsers(app, people)) == []
    breaches = []
    by_id = {person.staff.id: person for person in people}
    for name, (how, source, target, columns) in _changes(people):
        if how == "copy" and all(genuine[source][column] == genuine[target][column] for column in columns):
            continue  # nothing changes
        # Only the two rows change: a session on any other, or a sign-in as any other, is as it was.
        browsers = _browsers(app, [by_id[source], by_id[target]])
        if how == "copy":
            _copy(app, source, target, columns)
        else:
            _swap(app, source, target, *columns)
        assert _changed_rows(genuine, _columns(app)) <= {source, target}, name
        changed = {user_id: emails[user_id] for user_id in (source, target)}
        breaches += [f"{name}: {each}" for each in _breaches(app, people, changed, browsers)]
        _put_back(app, genuine)
    assert breaches == []
    assert _breaches(app, people, emails, _browsers(app, people)) == [], "put back, everyone is themselves again"
    for person in people[:3]:
        assert _signs_in_as(app, person, emails[person.staff.id]) is not None, person.name


def _identity_refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith("Account identity stamp invalid")]


def test_credentials_copied_onto_an_administrator_are_refused_with_an_error(app: Flask, caplog) -> None:
    """F3(c): the reviewer's copy, through the sign-in page; refused like a wrong password, named at ERROR."""
    app.config["RATELIMIT_ENABLED"] = False
    eve, mallory = gen_admin(app, "eve@example.org", "Eve Admin"), gen_staff(app, "m@example.org", approved=False)
    _copy(app, mallory.id, eve.id, CREDENTIALS)
    caplog.clear()
    answer = post_form(app.test_client(), "/guardian/sign-in", email=eve.email, password=PASSWORD,
                       security_code=mallory.security_code())  # fmt: skip
    assert answer.location.endswith("/guardian/sign-in")
    refusals = _identity_refusals(caplog)
    assert [r.levelname for r in refusals] == ["ERROR"] and eve.email not in refusals[0].getMessage()
    assert str(eve.id) in refusals[0].getMessage()


def test_a_role_set_to_admin_ends_the_guardians_session(app: Flask) -> None:
    """F3(b): the guardian's live session, and their next sign-in, are not an administrator's."""
    gita = gen_staff(app)
    browser = signed_in(app, gita)
    assert browser.get("/guardian/").status_code == 200
    with _writer(app) as connection:
        connection.execute(update(User).where(User.id == gita.id).values(role="admin"))
    assert browser.get("/admin/").status_code in (302, 303)
    assert browser.get("/guardian/").status_code in (302, 303)
    assert _signs_in_as(app, Person("gita", gita, False), gita.email) is None


def test_a_disabled_administrator_enabled_in_the_database_stays_out(app: Flask) -> None:
    """F3(d): is_active set back to true: no sign-in, and her session row put back opens nothing."""
    ada, carol = gen_admin(app), gen_admin(app, "carol@example.org", "Carol Admin")
    browser = signed_in(app, carol)
    with app.app_context():
        rows = db.session.scalars(db.select(StaffSession).where(StaffSession.user_id == carol.id))
        kept = [{c.name: getattr(row, c.name) for c in StaffSession.__table__.columns} for row in rows]
    with app.app_context(), transactions.unit_of_work():
        staff.set_active(db.session.get_one(User, carol.id), False, db.session.get_one(User, ada.id))
    with _writer(app) as connection:
        connection.execute(update(User).where(User.id == carol.id).values(is_active=True))
        for row in kept:
            connection.execute(insert(StaffSession).values(**row))
    assert browser.get("/admin/").status_code in (302, 303)
    assert _signs_in_as(app, Person("carol", carol, True), carol.email) is None


def test_ids_swapped_while_enrolling_through_an_unused_link_give_nobody_the_administrators_account(app: Flask):
    """F2, the reviewer's steps: frank's unused guardian link; the ids of ada (administrator) and frank swapped in one
    transaction; the link followed with the attacker's password and security code; the ids swapped back. The
    attacker does not sign in as ada, and ada still does."""
    app.config["RATELIMIT_ENABLED"] = False
    admin_client, ada = signed_in_admin_as(app)
    sent = post_form(admin_client, "/admin/invite", name="Frank", email="frank@example.org", role="guardian")
    path = enrolment_path(admin_client.get(sent.headers["Location"]).get_data(as_text=True))
    with app.app_context():
        frank = db.session.scalars(db.select(User.id).where(User.email == "frank@example.org")).one()
    _swap(app, ada.id, frank)
    attacker_secret = totp.new_totp_secret()
    secret_text = base64.b32encode(attacker_secret).decode().rstrip("=")
    written = _columns(app)[frank]  # ada's row, under frank's id
    client = app.test_client()
    assert client.get(path).status_code == 404, "the page does not offer to enrol ada's row under frank's link"
    token = path.split("token=", 1)[1]
    with app.test_request_context(), pytest.raises(enrolment.LinkUnusable):
        enrolment.complete(token, "the attacker's own passphrase", "the attacker's own passphrase", secret_text,
                           totp.totp_now(attacker_secret, clock.timestamp()))  # fmt: skip
    assert _columns(app)[frank] == written, "nothing is sealed into a row that is not the link's account as it was"
    # And were the credentials written all the same (the sealing itself, during the swap), they open for nobody.
    with app.app_context():
        row = db.session.get_one(User, frank)  # ada's row, under frank's id
        keys = account_keys.new_account_keys()
        account_keys.seal_account(row, "the attacker's own passphrase", account_keys.password_params(), keys,
                                  attacker_secret)  # fmt: skip
        forged = {column: getattr(row, column) for column in CREDENTIALS}
        db.session.rollback()
    _swap(app, ada.id, frank)
    attacker = Person("attacker", Staff(ada.id, ada.email, "the attacker's own passphrase", attacker_secret), False)
    assert _signs_in_as(app, attacker, ada.email) is None
    assert _signs_in_as(app, Person("ada", ada, True), ada.email) == (ada.id, "admin")
    kept = _columns(app)[ada.id]
    with _writer(app) as connection:
        connection.execute(update(User).where(User.id == ada.id).values(**forged))
    assert _signs_in_as(app, attacker, ada.email) is None
    _put_back(app, {ada.id: kept})
    assert _signs_in_as(app, Person("ada", ada, True), ada.email) == (ada.id, "admin")


def signed_in_admin_as(app: Flask) -> tuple[FlaskClient, Staff]:
    ada = gen_admin(app)
    return signed_in(app, ada), ada


def _seal_as_before_binding(app: Flask, user_id: int) -> None:
    """The account's keys sealed again as a release before this one sealed them: labels naming the salt only."""
    with app.app_context():
        user = db.session.get_one(User, user_id)
        unlocked = account_keys.unlock_account(user, PASSWORD)
        salt = user.password_salt or b""
        wrapping = account_keys.derive_password_key(PASSWORD, salt, account_keys.password_params_of(user))
        user.private_key_ct = sealing.seal(wrapping, unlocked.keys.private_key, labels.account_private_key(salt))
        user.signing_key_ct = sealing.seal(wrapping, unlocked.keys.signing_key or b"",
                                           labels.account_signing_key(salt))  # fmt: skip
        user.totp_secret_ct = sealing.seal(wrapping, unlocked.totp_secret or b"", labels.account_totp(salt))
        user.identity_stamp = None
        db.session.commit()


def test_an_account_sealed_before_the_binding_keeps_working_and_is_bound_at_its_next_sign_in(app: Flask, caplog):
    """Accounts from before: the upgrade vouches for them as they are; their owner signs in and they are sealed again
    under the bound labels. Their legacy credentials copied to another account, or a legacy row the upgrade did not
    vouch for, open nothing."""
    app.config["RATELIMIT_ENABLED"] = False
    ada = Person("ada", gen_admin(app), True)
    gita = Person("gita", gen_staff(app), False)
    for person in (ada, gita):
        _seal_as_before_binding(app, person.staff.id)
    caplog.clear()
    assert _signs_in_as(app, gita, gita.staff.email) is None  # no stamp: nothing vouches for it
    assert _identity_refusals(caplog)
    with app.app_context():
        enable_migrations(app)
        db.session.remove()
        downgrade_schema("0024")
        upgrade_schema()
    legacy = _columns(app)
    assert legacy[gita.staff.id]["identity_stamp"]
    # Gita's legacy credentials over Ada's row (with or without Ada's stamp) do not make gita ada.
    for extra in ((), ("identity_stamp",)):
        _copy(app, gita.staff.id, ada.staff.id, tuple(c for c in CREDENTIALS if c not in extra))
        assert _signs_in_as(app, gita, ada.staff.email) is None
        _put_back(app, legacy)
    assert _signs_in_as(app, gita, gita.staff.email) == (gita.staff.id, "guardian")
    with app.app_context():  # a real sign-in, kept: sealed again, bound
        staff.sign_in(gita.staff.email, PASSWORD, _code(gita))
        db.session.commit()
        user = db.session.get_one(User, gita.staff.id)
        salt, sealed = user.password_salt or b"", user.private_key_ct or b""
        wrapping = account_keys.derive_password_key(PASSWORD, salt, account_keys.password_params_of(user))
        with pytest.raises(sealing.DecryptionError):
            sealing.open_sealed(wrapping, sealed, labels.account_private_key(salt))
        account = labels.account(user.id, user.email, user.role)
        assert sealing.open_sealed(wrapping, sealed, labels.bound_account_private_key(salt, account))
    assert _signs_in_as(app, gita, gita.staff.email) == (gita.staff.id, "guardian")
    assert _signs_in_as(app, ada, ada.staff.email) == (ada.staff.id, "admin")


def test_after_a_pepper_rotation_everyone_is_still_themselves_and_nobody_else(app: Flask, runner, tmp_path) -> None:
    """`speakup rotate-pepper` makes every identity stamp again under the new pepper: everyone signs in as before,
    and a role set in the database is still refused; a stamp the old pepper made for a changed row opens nothing."""
    ada, gita = Person("ada", gen_admin(app), True), Person("gita", gen_staff(app), False)
    before = _columns(app)
    output = tmp_path / "pepper.env"
    done = runner.invoke(args=["speakup", "rotate-pepper", "--output", str(output)])
    assert done.exit_code == 0, done.output
    lines = read_environment_lines(output.read_text())
    keep = ("SQLALCHEMY_DATABASE_URI", "ROSTER_ANCHOR_FILE", "ROSTER_ROOT")
    after = create_app({**TEST_CONFIG, **{key: app.config[key] for key in keep}, "RATELIMIT_ENABLED": False,
                        "TOKEN_PEPPER": lines["SPEAKUP_TOKEN_PEPPER"],
                        "TOKEN_PEPPER_FALLBACKS": json.loads(lines["SPEAKUP_TOKEN_PEPPER_FALLBACKS"])})  # fmt: skip
    for key in ("TEST_RECOVERY_PRIVATE_KEY", "TEST_ROSTER_SIGNING_KEY"):
        after.config[key] = app.config[key]
    try:
        genuine = _columns(after)
        assert all(row["identity_stamp"] != before[user_id]["identity_stamp"] for user_id, row in genuine.items())
        with _writer(after) as connection:  # the role, and the stamp the old pepper would make for it
            connection.execute(update(User).where(User.id == gita.staff.id).values(role="admin"))
        with app.app_context():
            user = db.session.get_one(User, gita.staff.id)
            account_identity.stamp(user)  # under the old pepper, as its holder could
            forged = user.identity_stamp
            db.session.rollback()
        with _writer(after) as connection:
            connection.execute(update(User).where(User.id == gita.staff.id).values(identity_stamp=forged))
        assert _signs_in_as(after, gita, gita.staff.email) is None
        _put_back(after, genuine)
        assert _signs_in_as(after, gita, gita.staff.email) == (gita.staff.id, "guardian")
        assert _signs_in_as(after, ada, ada.staff.email) == (ada.staff.id, "admin")
    finally:
        with after.app_context():
            db.session.remove()
            db.engine.dispose()
