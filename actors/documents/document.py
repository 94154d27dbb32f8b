"""One actor per open document: the only owner of its pycrdt ``Doc``, so its edits apply strictly in order.

Every accepted change is appended to the durable update log *before* anyone sees it; a failed store
or a pycrdt panic leaves memory possibly ahead of storage, so the actor then closes its peers and
stops (the next open reloads from storage). Snapshots every N updates or T seconds bound load time.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

from gevent import GreenletExit
from pycrdt import merge_updates

from actors import runtime
from actors.component import ComponentActor
from actors.documents import crdt
from actors.documents.messages import (AccessChanged, Deleted, Edit, Join, Leave, Presence, Restore, Subscriber,
                                      YjsIn)
from actors.documents.presence import OUTDATED_MS, PresenceTable
from domain import logs, text_delta, ws_protocol, yjs_sync
from domain.config import CollabConfig
from domain.errors import BadRequest, DomainError, Forbidden, PayloadTooLarge, Unavailable
from domain.metrics import Metrics
from storage import documents as store
from storage.documents import role_rank

log = logging.getLogger("confab.documents")

CLOSE_POLICY, CLOSE_INTERNAL = 1008, 1011
#: most updates in one commit: bigger batches save commits but hold back the first update's broadcast
MAX_GROUP_COMMIT = 32


class _SnapshotTick:
    pass


class _Sweep:
    pass


class _StopNow:
    pass


class _Flush:
    pass


@dataclass(frozen=True)
class _Pending:
    version: int
    origin: Subscriber
    update: bytes
    delta: list
    received_at: float


class DocumentActor(ComponentActor):
    def __init__(self, document_id: str, config: CollabConfig, metrics: Metrics,
                 on_gone: Callable[[str, str], None]) -> None:
        super().__init__(f"document.{document_id}")
        self.document_id = document_id
        self._config = config
        self._metrics = metrics
        self._on_gone = on_gone  # (document_id, actor_urn): the registry forgets a self-stopped actor
        self._subs: dict[str, Subscriber] = {}
        self._since_snapshot = 0
        self._pending: list[_Pending] = []
        self._flush_told = False
        self._snapshot_timer: runtime.Timer | None = None
        self._sweep_timer: runtime.Timer | None = None
        self._failed: str | None = None
        self._deleted = False
        self._changes: list[bytes] = []
        self._deltas: list[list[dict[str, Any]]] = []

    # lifecycle ---------------------------------------------------------------------------------
    def on_start(self) -> None:
        with logs.bound(document_id=self.document_id):
            try:
                snapshot, base, updates = store.load(self.document_id)
                self._doc = crdt.build(snapshot, updates)
            except BaseException as exc:  # noqa: BLE001 — storage errors and pycrdt panics alike
                if isinstance(exc, (SystemExit, KeyboardInterrupt, GreenletExit)):
                    raise
                self._fail("load_failed", repr(exc))
                return
            self.version = updates[-1][0] if updates else base
            self._text = crdt.text_of(self._doc)
            self._size = len(self._doc.get_update())
            self._presence = PresenceTable(self._doc)
            self._doc.observe(lambda event: self._changes.append(event.update))
            self._text.observe(self._on_text_event)
            logs.event(log, "document.loaded", logging.DEBUG, version=self.version, replayed=len(updates))

    def on_stop(self) -> None:
        with logs.bound(document_id=self.document_id):
            self._cancel_timers()
            if self._failed is None and not self._deleted and (self._since_snapshot or self._pending):
                try:
                    self._snapshot()
                except Unavailable:
                    pass

    def _cancel_timers(self) -> None:
        for timer in (self._snapshot_timer, self._sweep_timer):
            if timer is not None:
                timer.cancel()
        self._snapshot_timer = self._sweep_timer = None

    def _fail(self, event: str, error: str) -> None:
        """Memory can no longer be trusted (or never loaded): drop every peer and stop."""
        self._failed = error
        self._pending.clear()  # never broadcast, so never seen: dropping them loses nothing anyone saw
        logs.event(log, f"document.{event}", logging.ERROR, error=error)
        self._close_all(CLOSE_INTERNAL, "document unavailable, reconnect")
        self._cancel_timers()
        self._on_gone(self.document_id, self.actor_urn)
        self.actor_ref.tell(_StopNow())

    # dispatch ----------------------------------------------------------------------------------
    def handle(self, message: Any) -> Any:
        with logs.bound(document_id=self.document_id):
            if isinstance(message, _StopNow):
                self.stop()
                return None
            if self._failed is not None or self._deleted:
                if isinstance(message, (Join, Edit, Restore)):  # asks; tells are dropped
                    raise Unavailable("document unavailable, retry")
                return None
            try:
                return self._dispatch(message)
            except crdt.CrdtPanic as exc:
                self._fail("crdt_panic", str(exc))
                if isinstance(message, (Join, Edit, Restore)):
                    raise Unavailable("document unavailable, retry") from None
                return None

    def _dispatch(self, message: Any) -> Any:
        if isinstance(message, YjsIn):
            return self._on_yjs(message)
        if isinstance(message, Edit):
            return self._on_edit(message)
        if isinstance(message, Join):
            return self._on_join(message.subscriber)
        if isinstance(message, Leave):
            return self._on_leave(message.peer_id)
        if isinstance(message, Presence):
            return self._on_presence(message)
        if isinstance(message, Restore):
            return self._on_restore(message)
        if isinstance(message, AccessChanged):
            return self._on_access_changed(message)
        if isinstance(message, Deleted):
            self._deleted = True
            self._pending.clear()
            self._close_all(CLOSE_POLICY, "document deleted")
            self._cancel_timers()
            self.actor_ref.tell(_StopNow())
        elif isinstance(message, _Flush):
            self._flush_told = False
            try:
                self._flush()
            except Unavailable:
                pass  # _fail has closed every peer and is stopping the actor
        elif isinstance(message, _SnapshotTick):
            self._snapshot_timer = None
            if self._since_snapshot:
                self._snapshot()
        elif isinstance(message, _Sweep):
            self._sweep_timer = None
            removed, payload = self._presence.expire()
            self._relay_presence(None, payload, dict.fromkeys(removed))
            self._schedule_sweep()
        return None

    # peers -------------------------------------------------------------------------------------
    def _on_join(self, sub: Subscriber) -> dict[str, Any]:
        self._flush()
        self._subs[sub.peer_id] = sub
        if sub.kind == "yjs":
            sub.send(yjs_sync.sync_step1(self._doc.get_state()))
            states = self._presence.full_update()
            if states is not None:
                sub.send(yjs_sync.awareness(states))
            return {"version": self.version}
        return {"version": self.version, "content": str(self._text),
                "presence": [{"client_id": cid, "state": state} for cid, state in self._presence.states().items()]}

    def _on_leave(self, peer_id: str) -> None:
        if self._subs.pop(peer_id, None) is None:
            return
        removed, payload = self._presence.drop_peer(peer_id)
        self._relay_presence(None, payload, dict.fromkeys(removed))

    def _on_access_changed(self, message: AccessChanged) -> None:
        for sub in [s for s in self._subs.values() if s.user_id == message.user_id]:
            if message.role is None:
                logs.event(log, "document.access_revoked", user_id=sub.user_id, peer_id=sub.peer_id)
                sub.close(CLOSE_POLICY, "access revoked")
                self._on_leave(sub.peer_id)
            else:
                self._subs[sub.peer_id] = replace(sub, role=message.role)

    def _close_all(self, code: int, reason: str) -> None:
        for sub in list(self._subs.values()):
            sub.close(code, reason)
        self._subs.clear()

    # Yjs side ----------------------------------------------------------------------------------
    def _on_yjs(self, message: YjsIn) -> None:
        sub = self._subs.get(message.peer_id)
        if sub is None:
            return
        msg = message.message
        try:
            if isinstance(msg, yjs_sync.SyncStep1):
                self._flush()  # step 2 carries the state: only what is durable
                sub.send(yjs_sync.sync_step2(crdt.guarded(self._doc.get_update, msg.state_vector)))
            elif isinstance(msg, (yjs_sync.SyncStep2, yjs_sync.SyncUpdate)):
                self._on_yjs_update(sub, msg.update, message.received_at)
            elif isinstance(msg, yjs_sync.AwarenessUpdate):
                changed = self._presence.apply(sub.peer_id, msg.payload)
                self._relay_presence(sub.peer_id, msg.payload, changed)
            elif isinstance(msg, yjs_sync.QueryAwareness):
                states = self._presence.full_update()
                if states is not None:
                    sub.send(yjs_sync.awareness(states))
        except DomainError as exc:  # y-websocket has no error message: log it and keep serving the socket
            self._metrics.incr(f"errors.{exc.code}")
            logs.event(log, "document.yjs_refused", logging.INFO, code=exc.code, reason=exc.message,
                       user_id=sub.user_id, peer_id=sub.peer_id)

    def _on_yjs_update(self, sub: Subscriber, update: bytes, received_at: float) -> None:
        if update == b"\x00\x00":
            return
        if role_rank(sub.role) < role_rank("editor"):
            raise Forbidden("viewer update refused")
        self._check_size(len(update))
        old = str(self._text) if self._has_json_peers() else ""
        self._changes.clear()
        self._deltas.clear()
        crdt.guarded(self._doc.apply_update, update)
        self._accept(sub, received_at, old_text=old)

    # JSON side ---------------------------------------------------------------------------------
    def _on_edit(self, message: Edit) -> dict[str, Any]:
        sub = self._subs.get(message.peer_id)
        if sub is None:
            raise BadRequest("join the document first", {"fields": {"document_id": ["not joined"]}})
        if role_rank(sub.role) < role_rank("editor"):
            raise Forbidden("viewers cannot edit this document")
        return self._apply_delta(sub, message.ops, message.received_at)

    def _on_restore(self, message: Restore) -> dict[str, Any]:
        """Never rebuild the CRDT from plain text (that duplicates text in clients that reconnect)."""
        ops = text_delta.diff_ops(str(self._text), message.content)
        if not ops or ops == [{"retain": len(message.content)}]:
            return {"document_id": self.document_id, "version": self.version}
        origin = Subscriber(f"restore.{message.user_id}", message.user_id, "editor", "json", _ignore, _ignore)
        return self._apply_delta(origin, ops, time.perf_counter())

    def _apply_delta(self, sub: Subscriber, ops: list, received_at: float) -> dict[str, Any]:
        byte_ops = text_delta.to_byte_ops(str(self._text), ops)
        self._check_size(sum(len(op.text.encode()) for op in byte_ops if isinstance(op, text_delta.Insert)) + 64)
        self._changes.clear()
        self._deltas.clear()
        with self._doc.transaction():
            crdt.guarded(text_delta.apply_byte_ops, self._text, byte_ops)
        self._accept(sub, received_at, delta=ops)
        self._flush()
        return {"document_id": self.document_id, "version": self.version}

    def _on_presence(self, message: Presence) -> None:
        sub = self._subs.get(message.peer_id)
        if sub is None:
            raise BadRequest("join the document first", {"fields": {"document_id": ["not joined"]}})
        cid, payload = self._presence.set_json_state(sub.peer_id, message.state)
        self._relay_presence(sub.peer_id, payload, {cid: message.state})

    # accepting a change ------------------------------------------------------------------------
    def _check_size(self, incoming: int) -> None:
        if self._size + incoming > self._config.max_document_bytes:
            raise PayloadTooLarge("the document would exceed max_document_bytes",
                                  {"max_document_bytes": self._config.max_document_bytes})

    def _accept(self, sub: Subscriber, received_at: float, old_text: str = "", delta: list | None = None) -> None:
        """Queue the change just applied (if any) for the next group commit.

        Commits happen when the mailbox has drained (a ``_Flush`` told to ourselves lands behind the
        messages already queued), or at once when a caller needs the durable result (JSON acks,
        joins, step 2 replies, snapshots). Nothing is broadcast before its commit.
        """
        if not self._changes:
            return
        update = self._changes[0] if len(self._changes) == 1 else merge_updates(*self._changes)
        if delta is None:
            delta = [op for d in self._deltas for op in text_delta.to_codepoint_delta(old_text, d)]
        self._pending.append(_Pending(self.version + len(self._pending) + 1, sub, update, delta, received_at))
        self._size += len(update)
        if len(self._pending) >= MAX_GROUP_COMMIT:
            self._flush()
        elif not self._flush_told:
            self._flush_told = True
            self.actor_ref.tell(_Flush())

    def _flush(self) -> None:
        """Append every pending update in one transaction, then broadcast them in order."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        try:
            store.append_updates(self.document_id, [(p.version, p.origin.user_id, p.update) for p in pending])
        except Exception as exc:  # noqa: BLE001 — memory is now ahead of storage: reload
            self._fail("store_failed", repr(exc))
            raise Unavailable("could not store the update") from None
        self.version = pending[-1].version
        for p in pending:
            self._broadcast(p)
            self._metrics.timing("collab.edit_latency", (time.perf_counter() - p.received_at) * 1000)
        self._since_snapshot += len(pending)
        if self._since_snapshot >= self._config.snapshot_every_updates:
            self._snapshot()
        elif self._snapshot_timer is None:
            self._snapshot_timer = runtime.call_later(self._config.snapshot_every_s, self.actor_ref.tell,
                                                      _SnapshotTick())

    def _broadcast(self, change: _Pending) -> None:
        origin, update, delta = change.origin, change.update, change.delta
        binary = yjs_sync.sync_update(update)
        event = ws_protocol.encode({"type": "document_updated", "document_id": self.document_id,
                                    "version": change.version, "author_id": origin.user_id, "delta": delta})
        for sub in self._subs.values():
            if sub.peer_id != origin.peer_id:
                sub.send(binary if sub.kind == "yjs" else event)

    def _relay_presence(self, origin_peer: str | None, payload: bytes | None, changed: dict[int, Any]) -> None:
        if payload is not None:
            binary = yjs_sync.awareness(payload)
            for sub in self._subs.values():
                if sub.kind == "yjs" and sub.peer_id != origin_peer:
                    sub.send(binary)
        owner = self._subs.get(origin_peer) if origin_peer else None
        for cid, state in changed.items():
            event = ws_protocol.encode({"type": "document_presence", "document_id": self.document_id,
                                        "client_id": cid, "user_id": owner.user_id if owner else None,
                                        "state": state})
            for sub in self._subs.values():
                if sub.kind == "json" and sub.peer_id != origin_peer:
                    sub.send(event)
        self._schedule_sweep()

    def _on_text_event(self, event: Any) -> None:
        if self._has_json_peers():  # building the delta costs CPU; only JSON peers need it
            self._deltas.append(event.delta)

    def _has_json_peers(self) -> bool:
        return any(sub.kind == "json" for sub in self._subs.values())

    def _schedule_sweep(self) -> None:
        if self._sweep_timer is None and self._presence.has_states:
            self._sweep_timer = runtime.call_later(OUTDATED_MS / 10_000, self.actor_ref.tell, _Sweep())

    def _snapshot(self) -> None:
        self._flush()
        if self._snapshot_timer is not None:
            self._snapshot_timer.cancel()
            self._snapshot_timer = None
        try:
            state = self._doc.get_update()
            store.write_snapshot(self.document_id, self.version, state)
        except Exception as exc:  # noqa: BLE001 — the update log still holds everything
            logs.event(log, "document.snapshot_failed", logging.WARNING, error=repr(exc), version=self.version)
            return
        self._since_snapshot = 0
        self._size = len(state)
        logs.event(log, "document.snapshot", logging.DEBUG, version=self.version, bytes=len(state))


def _ignore(*_args: Any) -> None:
    """The send/close of a change that has no socket (a restore from REST)."""
