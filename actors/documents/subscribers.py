"""The local sockets following one document, and the frames the document actor sends them.

Each frame is encoded and framed once and the same bytes are pushed into every recipient socket's
outbox; the socket a change came from is skipped when it can be (it has the change already).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pycrdt import merge_updates

from actors.documents.messages import Subscriber
from domain import ws_protocol, yjs_sync
from domain.ws_protocol import WireFrame


@dataclass(frozen=True)
class Change:
    """A stored update as the peers hear of it."""
    version: int
    author_id: str
    origin_peer: str | None  # the socket it came from (None: another instance, or storage)
    update: bytes
    delta: list


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

    def send_changes(self, changes: list[Change]) -> None:
        """Stored updates, in version order: to Yjs peers one update message with all of them merged
        (a hot document costs one frame per peer per flush, not one per keystroke; a peer may get its
        own change back, which Yjs ignores), to JSON peers one ``document_updated`` per version. Only
        a change's own socket is skipped, and only when the batch is that one socket's."""
        if not changes:
            return
        origins = {change.origin_peer for change in changes}
        only = next(iter(origins)) if len(origins) == 1 else None
        yjs_peers = [sub for sub in self.values() if sub.kind == "yjs" and sub.peer_id != only]
        if yjs_peers:
            update = changes[0].update if len(changes) == 1 else merge_updates(*(c.update for c in changes))
            frame = WireFrame(yjs_sync.sync_update(update), binary=True)
            for sub in yjs_peers:
                sub.send(frame)
        json_peers = [sub for sub in self.values() if sub.kind == "json"]
        for change in changes if json_peers else ():
            event = WireFrame(ws_protocol.encode({"type": "document_updated", "document_id": self.document_id,
                                                  "version": change.version, "author_id": change.author_id,
                                                  "delta": change.delta}))
            for sub in json_peers:
                if sub.peer_id != change.origin_peer:
                    sub.send(event)

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
