"""The document actor's JSON side (/ws): text deltas in code points, presence, restores (a mixin of
``DocumentActor``).

pycrdt's text events count UTF-8 bytes and the protocol's deltas count code points. Converting needs the
text as it was before the change, which is a copy of the whole document per update: done only while
JSON peers follow the document, and skipped while the text is ASCII (bytes and code points are then
the same numbers, so pycrdt's delta *is* the protocol's delta), which is checked once when a JSON peer
joins and kept up from the inserts.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from actors.documents import crdt
from actors.documents.messages import CurrentText, Edit, PresenceUpdate, Restore, Subscriber
from actors.documents.presence import PresenceTable
from actors.documents.subscribers import Subscribers
from domain import text_delta
from domain.errors import BadRequest, Forbidden
from storage.documents import role_rank


class JsonPeers:
    document_id: str
    _doc: Any
    _text: Any
    _subs: Subscribers
    _presence: PresenceTable
    _changes: list[bytes]
    _deltas: list[list[dict[str, Any]]]
    _ascii: bool
    _old_text: str
    _text_events: Any  # the text observer's subscription, while JSON peers follow

    if TYPE_CHECKING:  # the actor's own methods
        @property
        def version(self) -> int: ...
        def _flush(self) -> int: ...
        def _check_size(self, incoming: int) -> None: ...
        def _accept(self, sub: Subscriber, received_at: float, relay: bytes | None = None,
                    delta: list | None = None) -> None: ...
        def _relay_presence(self, origin_peer: str | None, user_id: str | None, payload: bytes | None,
                            changed: dict[int, Any], publish: bool = True) -> None: ...

    # --- deltas for JSON peers ----------------------------------------------------------------------

    def _json_joined(self) -> None:
        self._ascii = crdt.json_text(self._text).isascii()

    def _begin_change(self) -> None:
        """Before applying a change: what converting its delta will need."""
        self._changes.clear()
        self._deltas.clear()
        self._old_text = crdt.json_text(self._text) if self._subs.has_json() and not self._ascii else ""

    def _follow_text(self) -> None:
        """Observe the text only while JSON peers follow the document: pycrdt builds every text event's
        delta eagerly, walking the text (13 % of a hot document's CPU with nobody to read it)."""
        wanted = self._subs.has_json()
        if wanted and self._text_events is None:
            self._text_events = self._text.observe(self._on_text_event)
        elif not wanted and self._text_events is not None:
            self._text.unobserve(self._text_events)
            self._text_events = None

    def _on_text_event(self, event: Any) -> None:
        self._deltas.append(event.delta)

    def _json_delta(self) -> list[dict[str, Any]]:
        """The change just applied, as a protocol delta (empty without JSON peers)."""
        if not self._deltas:
            return []
        if self._ascii:  # an embed is not ASCII: the text stops being ASCII with it
            delta = [op if isinstance(op.get("insert", ""), str) else {"insert": text_delta.EMBED}
                     for d in self._deltas for op in d]
            self._ascii = all(not isinstance(op.get("insert"), str) or op["insert"].isascii() for op in delta)
            return delta
        return [op for d in self._deltas for op in text_delta.to_codepoint_delta(self._old_text, d)]

    # --- frames ------------------------------------------------------------------------------------

    def _on_edit(self, message: Edit) -> dict[str, Any]:
        sub = self._subs.get(message.peer_id)
        if sub is None:
            raise BadRequest("join the document first", {"fields": {"document_id": ["not joined"]}})
        if role_rank(sub.role) < role_rank("editor"):
            raise Forbidden("viewers cannot edit this document")
        return self._apply_delta(sub, message.ops, message.received_at)

    def _on_current_text(self, _message: CurrentText) -> tuple[int, str]:
        self._flush()
        return self.version, crdt.json_text(self._text)

    def _on_restore(self, message: Restore) -> dict[str, Any] | None:
        """The difference was computed off this actor against ``base_version``'s text: it applies only if
        nothing moved since. (Never rebuild the CRDT from plain text: reconnecting clients would
        duplicate it.)"""
        self._flush()
        if self.version != message.base_version:
            return None
        ops = message.ops
        if not ops or all("retain" in op for op in ops):
            return {"document_id": self.document_id, "version": self.version}
        origin = Subscriber(f"restore.{message.user_id}", message.user_id, "editor", "json", _ignore, _ignore)
        return self._apply_delta(origin, ops, time.perf_counter())

    def _apply_delta(self, sub: Subscriber, ops: list, received_at: float) -> dict[str, Any]:
        byte_ops = text_delta.to_byte_ops(crdt.json_text(self._text), ops)
        self._check_size(sum(len(op.text.encode()) for op in byte_ops if isinstance(op, text_delta.Insert)) + 64)
        self._changes.clear()
        self._deltas.clear()
        with self._doc.transaction():
            crdt.guarded(text_delta.apply_byte_ops, self._text, byte_ops)
        self._ascii = self._ascii and all(op.text.isascii() for op in byte_ops if isinstance(op, text_delta.Insert))
        self._accept(sub, received_at, delta=ops)
        return {"document_id": self.document_id, "version": self._flush()}

    def _on_presence(self, message: PresenceUpdate) -> None:
        sub = self._subs.get(message.peer_id)
        if sub is None:
            raise BadRequest("join the document first", {"fields": {"document_id": ["not joined"]}})
        cid, payload = self._presence.set_json_state(sub.peer_id, message.state)
        self._relay_presence(sub.peer_id, sub.user_id, payload, {cid: message.state})


def _ignore(*_args: Any) -> Any:
    """The send/close of a change that has no socket (a restore from REST)."""
    return False
