"""A real SMTP server in the test process (aiosmtpd on its own thread): what Confab sends, as parsed messages."""
from __future__ import annotations

import email
import email.policy
import socket
import time
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any, Iterator

import pytest
from aiosmtpd.controller import Controller


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def wait_for(self, to: str, timeout: float = 5.0) -> EmailMessage:
        """The newest message to ``to``, waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.messages if m["To"] == to]
            if found:
                return found[-1]
            time.sleep(0.05)
        raise AssertionError(f"no e-mail to {to} within {timeout} s (got {[m['To'] for m in self.messages]})")


def free_port() -> int:
    with socket.socket() as probe:  # aiosmtpd checks it is up by connecting: it needs a real port
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_sink() -> Iterator[tuple[Inbox, dict[str, str]]]:
    """An inbox and the ``[email]`` settings that send to it (plain SMTP, no login)."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, {"host": "127.0.0.1", "port": str(controller.port), "security": "none",
                      "from_address": "confab@example.org"}
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def mail() -> Iterator[tuple[Inbox, dict[str, str]]]:
    """A module's SMTP sink: import this fixture into a test module to use it."""
    with smtp_sink() as sink:
        yield sink
