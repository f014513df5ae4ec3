"""The queue's notice that guardians' emails have been failing (issue 27, point 1), in Chromium with and without
JavaScript: read first, in words, and passing axe-core like the rest of the page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect
from support.browser import Visit, sign_in
from support.factories import gen_staff

from speakup.ops.notify import Kind
from speakup.platform import clock
from speakup.platform.models import MailOutbox, db


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_guardians_are_told_when_their_emails_are_not_being_sent(
    app: Flask, live_server: str, browser: Browser, javascript: bool
) -> None:
    guardian = gen_staff(app, email="gita@example.org", name="Gita Guardian")
    with app.app_context():
        queued = clock.minute_now() - timedelta(minutes=20)
        db.session.add(
            MailOutbox(kind=Kind.NEW_CONCERN, user_id=guardian.id, created_at=queued, send_after=queued,
                       attempts=3, next_attempt_at=clock.utcnow() + timedelta(minutes=4), last_error="OSError")
        )  # fmt: skip
        db.session.commit()
    visit = Visit(browser, live_server, javascript=javascript, label=f"mail-notice-{'js' if javascript else 'no-js'}")
    try:
        sign_in(visit, guardian)
        notice = visit.page.locator("#mail-failing")
        expect(notice).to_contain_text("Emails to guardians have not been sent for a while")
        expect(notice).to_contain_text("tell your IT team")
        visit.check("queue-mail-failing")
    finally:
        visit.close()
