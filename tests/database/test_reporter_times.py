"""Issue 24, point 5: what a reporter does is stored to the minute and no finer, in every table.

Read from the schema, not listed: every date-time column of every row written while a concern is raised on the form,
followed up, replied to, given a file, feedback and a check-in, with no guardian acting.
"""

from __future__ import annotations

import io
from datetime import datetime

from flask import Flask
from sqlalchemy import DateTime, select
from support.factories import gen_concern
from support.html import post_form

from speakup.platform.models import db


def _finer_than_a_minute(app: Flask) -> set[tuple[str, datetime]]:
    found = set()
    with app.app_context():
        for table in db.metadata.sorted_tables:
            columns = [column for column in table.columns if isinstance(column.type, DateTime)]
            for row in db.session.execute(select(*columns)).all() if columns else ():
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, datetime) and (value.second or value.microsecond):
                        found.add((f"{table.name}.{column.name}", value))
    return found


def test_a_reporters_actions_are_kept_to_the_minute(app: Flask, client):
    before = _finer_than_a_minute(app)  # the app's own setting up: keys, the roster
    code = gen_concern(client, what_happened="The sluice room door has been propped open all week.")["access_code"]
    assert post_form(client, "/follow-up", access_code=code).status_code == 303
    assert (
        post_form(client, "/follow-up/case", "/follow-up/case/messages", body="It was open again.").status_code == 303
    )
    token = post_form.__globals__["csrf_token"](client, "/follow-up/case")
    answer = client.post(
        "/follow-up/case/attachments",
        data={"csrf_token": token, "attachment": (io.BytesIO(b"Rota for the week"), "rota.txt", "text/plain")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 303
    assert post_form(client, "/follow-up/case", "/follow-up/sign-out").status_code == 303
    found = sorted({column for column, _value in _finer_than_a_minute(app) - before})
    assert found == [], ", ".join(found)
