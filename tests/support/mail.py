"""A real SMTP server (aiosmtpd) for the guardian email tests: it stores what it receives, refuses one address, and
can be stopped and started again on the same port (a mail server down for a while)."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from flask import Flask

REFUSED = "refused@example.org"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes


@dataclass
class StoringHandler:
    received: list[Received] = field(default_factory=list)
    slow_seconds: float = 0.0  # each message is accepted this long after it arrives (for two workers to overlap)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address == REFUSED:
            return "550 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.slow_seconds:
            await asyncio.sleep(self.slow_seconds)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"


@dataclass
class MailServer:
    handler: StoringHandler
    port: int
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def send_mail_to(app: Flask, port: int) -> Flask:
    """Points the app's guardian email at the test server on ``port``."""
    app.config.update(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=port,
        MAIL_USE_STARTTLS=False,
        MAIL_USE_SSL=False,
        MAIL_TIMEOUT=5,
        MAIL_FROM="speak-up@trust.example.org",
        PUBLIC_BASE_URL="https://speakup.example.nhs.uk/",
    )
    return app
