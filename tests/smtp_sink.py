"""A real SMTP server (aiosmtpd) on the loopback, for the tests that send e-mail:
notices (tests/services/test_notifications.py) and the portal's login codes."""

from __future__ import annotations

import asyncio
import email
import socket
import threading
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage


class SmtpSink:
    """A real SMTP server (aiosmtpd) on the loopback that keeps what it accepts.

    `refuse` lists recipients answered 550; `delay` slows each DATA (seconds), so that
    concurrent workers overlap. Extra keyword arguments go to aiosmtpd's SMTP (TLS, AUTH).
    """

    def __init__(self, port: int | None = None, **smtp: Any) -> None:
        self.port = port or free_port()
        self.received: list[Received] = []
        self.refuse: set[str] = set()
        self.delay = 0.0
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **smtp)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self._lock:
            self.received.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    email.message_from_bytes(envelope.original_content, policy=policy.default),
                )
            )
        return "250 Message accepted for delivery"

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def message_ids(self) -> list[str]:
        return [r.message["Message-ID"] for r in self.received]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The messages received, once there are at least `count` (or the timeout)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        with self._lock:
            return list(self.received)
