"""The guardian email tests' mail server (tests/support/mail.py) and an app sending to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from support.mail import MailServer, StoringHandler, free_port, send_mail_to


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    server = MailServer(StoringHandler(), free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mail_app(app: Flask, smtp: MailServer) -> Flask:
    return send_mail_to(app, smtp.port)
