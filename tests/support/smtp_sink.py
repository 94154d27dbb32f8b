"""A real SMTP server in the test process (aiosmtpd on its own thread): what Confab sends, as parsed messages,
and optionally spooled to a folder as JSON (``{to, subject, body}``, one file each) for a browser scenario
in another process to read."""
from __future__ import annotations

import email
import email.policy
import json
import time
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Iterator

import pytest
from aiosmtpd.controller import Controller

from tests.support.harness import free_port


class Inbox:
    def __init__(self, spool: Path | None = None) -> None:
        self.messages: list[EmailMessage] = []
        self._spool = spool

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)
        if self._spool is not None:
            parsed = {"to": message["To"], "subject": message["Subject"], "body": message.get_content()}
            (self._spool / f"{len(self.messages):04d}.json").write_text(json.dumps(parsed))
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


@contextmanager
def smtp_sink(spool: Path | None = None) -> Iterator[tuple[Inbox, dict[str, str]]]:
    """An inbox and the ``[email]`` settings that send to it (plain SMTP, no login)."""
    inbox = Inbox(spool)
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())  # aiosmtpd checks it is up by connecting
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
