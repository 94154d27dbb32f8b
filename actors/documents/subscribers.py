"""The local sockets following one document, and the frames the document actor sends them.

Each frame is encoded and framed once and the same bytes are pushed into every recipient socket's
outbox; the socket a change came from is skipped (it has the change already).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from actors.documents.messages import Subscriber
from domain import ws_protocol, yjs_sync
from domain.ws_protocol import WireFrame


class Subscribers(dict[str, Subscriber]):
    """peer id → ``Subscriber``."""

    def __init__(self, document_id: str) -> None:
        super().__init__()
        self.document_id = document_id

    def has_json(self) -> bool:
        return any(sub.kind == "json" for sub in self.values())

    def of_user(self, user_id: str) -> list[Subscriber]:
        return [sub for sub in self.values() if sub.user_id == user_id]

    def set_role(self, sub: Subscriber, role: str) -> None:
        self[sub.peer_id] = replace(sub, role=role)

    def close_all(self, code: int, reason: str) -> None:
        for sub in list(self.values()):
            sub.close(code, reason)
        self.clear()

    def send_change(self, version: int, author_id: str, origin_peer: str | None, update: bytes,
                    delta: list) -> None:
        """A stored update: the Yjs update message to Yjs peers, ``document_updated`` to JSON peers."""
        binary = WireFrame(yjs_sync.sync_update(update), binary=True)
        event = WireFrame(ws_protocol.encode({"type": "document_updated", "document_id": self.document_id,
                                              "version": version, "author_id": author_id, "delta": delta}))
        for sub in self.values():
            if sub.peer_id != origin_peer:
                sub.send(binary if sub.kind == "yjs" else event)

    def send_awareness(self, origin_peer: str | None, user_id: str | None, payload: bytes | None,
                       changed: dict[int, Any]) -> None:
        """An awareness change: the payload to Yjs peers, one ``document_presence`` per changed client
        id to JSON peers."""
        if payload is not None:
            binary = WireFrame(yjs_sync.awareness(payload), binary=True)
            for sub in self.values():
                if sub.kind == "yjs" and sub.peer_id != origin_peer:
                    sub.send(binary)
        for cid, state in changed.items():
            event = WireFrame(ws_protocol.encode({"type": "document_presence", "document_id": self.document_id,
                                                  "client_id": cid, "user_id": user_id, "state": state}))
            for sub in self.values():
                if sub.kind == "json" and sub.peer_id != origin_peer:
                    sub.send(event)
