"""A staff session row is bound to its account and to the server's current pepper (outside review 3 of issue 27):
a database writer who holds an old secret key made a session on a copy of the database and put its row in the live
one, with `user_id` set to an administrator's, and was that administrator. Now a row opens only for the account it
was made for, under the pepper in force, with the key its own cookie holds."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import update
from support.factories import gen_admin, gen_staff
from support.html import signed_in

from speakup.platform.models import StaffSession, db


def _sessions_of(app: Flask, user_id: int) -> list[StaffSession]:
    with app.app_context():
        return list(db.session.scalars(db.select(StaffSession).where(StaffSession.user_id == user_id)))


def test_a_session_row_moved_to_another_account_opens_nothing(app: Flask) -> None:
    admin = gen_admin(app)
    gus = gen_staff(app, email="gus@example.org", name="Gus Guardian")
    browser = signed_in(app, gus)
    assert browser.get("/guardian/").status_code == 200
    with app.app_context():
        db.session.execute(update(StaffSession).where(StaffSession.user_id == gus.id).values(user_id=admin.id))
        db.session.commit()
    answer = browser.get("/admin/")
    assert answer.status_code in (302, 303) and "/guardian/sign-in" in answer.headers["Location"]
    assert browser.get("/guardian/").status_code in (302, 303)


def test_a_session_made_under_another_pepper_opens_nothing(app: Flask) -> None:
    """What a session made on a copy with an old pepper, or before a rotation, is: it signs nobody in."""
    gus = gen_staff(app, email="gus@example.org", name="Gus Guardian")
    browser = signed_in(app, gus)
    assert browser.get("/guardian/").status_code == 200
    app.config["TOKEN_PEPPER_BYTES"] = b"the pepper after a rotation, not the one the session was made under"
    try:
        assert browser.get("/guardian/").status_code in (302, 303)
    finally:
        app.config["TOKEN_PEPPER_BYTES"] = app.config["TOKEN_PEPPER"].encode()


@pytest.mark.parametrize("key", ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "", "AAAA", None])
def test_a_cookie_whose_key_is_not_the_rows_opens_nothing(app: Flask, key: str | None) -> None:
    gus = gen_staff(app, email="gus@example.org", name="Gus Guardian")
    browser = signed_in(app, gus)
    with browser.session_transaction() as cookie:
        if key is None:
            del cookie["staff_key"]
        else:
            cookie["staff_key"] = key
    assert browser.get("/guardian/").status_code in (302, 303)
    assert _sessions_of(app, gus.id), "a wrong cookie ends nobody else's session row"
