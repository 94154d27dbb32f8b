"""The writer of one ``/yjs`` socket: binary messages from the document actor, closes from anyone.

It answers the gateway's ``Close`` like a /ws session does (revoked keys, shutdown with 1001) and
ignores JSON ``Send`` frames meant for /ws sessions of the same user.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from actors.component import ComponentActor
from actors.session import Close
from domain import logs

log = logging.getLogger("confab.yjs")


@dataclass(frozen=True)
class Outbound:
    data: bytes


class YjsPeerActor(ComponentActor):
    def __init__(self, ws: Any, peer_id: str, close_socket: Callable[[Any, int, str], None]) -> None:
        super().__init__(f"yjs.{peer_id}")
        self._ws = ws
        self._close_socket = close_socket
        self._closed = False

    def handle(self, message: Any) -> Any:
        if self._closed:
            return None
        if isinstance(message, Outbound):
            try:
                self._ws.send(message.data)
            except Exception as exc:  # noqa: BLE001 — gone or too slow: the reader ends the session
                self._closed = True
                logs.event(log, "yjs.send_failed", logging.INFO, error=repr(exc))
        elif isinstance(message, Close):
            self._closed = True
            logs.event(log, "yjs.closing", code=message.code, reason=message.reason)
            self._close_socket(self._ws, message.code, message.reason)
        return None
