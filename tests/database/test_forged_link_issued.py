"""A ``link_issued`` entry whose proof does not hold is a forgery, and a roster alarm like any other (outside review
r5, F4): a correctly chained copy of an older issue became the account's newest link, so its real, unused link
answered "expired", and nobody was told."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask
from sqlalchemy import select
from support.factories import signed_in_admin
from support.html import post_form
from support.present import scalar

from speakup.keys import roster, roster_log
from speakup.platform.models import RosterEntry, User, db


def _reissued(app: Flask) -> int:
    """Nia invited, then her link issued again (a password reset): two genuine ``link_issued`` entries. Her account's
    id."""
    admin_client, _admin = signed_in_admin(app)
    post_form(admin_client, "/admin/invite", name="Nia New", email="nia@example.org", role="admin")
    with app.app_context():
        nia = scalar(select(User.id).where(User.email == "nia@example.org"))
    assert post_form(admin_client, "/admin/", f"/admin/users/{nia}/reset-password").status_code == 303
    return nia


def _roster_problem(app: Flask) -> str | None:
    app.extensions.pop("speakup_roster", None)  # verified afresh, not as this process last saw it
    with app.app_context():
        return roster.current_roster().problem


def test_a_copied_link_issued_is_a_roster_alarm(app: Flask, caplog: Any) -> None:
    nia = _reissued(app)
    assert _roster_problem(app) is None
    with app.app_context():
        first = scalar(select(RosterEntry).where(RosterEntry.kind == "link_issued").order_by(RosterEntry.seq))
        statement = json.loads(first.statement)
        body = {name: statement[name] for name in statement if name not in roster_log.ENVELOPE}
        roster_log.append(roster_log.LINK_ISSUED, nia, body)  # its proof copied: it covers another place and time
        db.session.commit()
    with caplog.at_level(logging.ERROR):
        problem = _roster_problem(app)
    assert problem is not None and "proof" in problem
    assert any(record.getMessage().startswith("Roster alarm:") for record in caplog.records)


def test_a_genuine_reissue_is_no_alarm(app: Flask) -> None:
    _reissued(app)
    assert _roster_problem(app) is None
