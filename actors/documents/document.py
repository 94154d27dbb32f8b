"""One actor per open document: the only owner of its pycrdt ``Doc``, so its edits apply strictly in order.

Every accepted change is appended to the durable update log *before* anyone sees it; a failed store,
a pycrdt panic or any unexpected error leaves memory possibly ahead of storage, so the actor then
closes its peers (JSON peers are told) and stops (the next open reloads from storage). Snapshots
every N updates or T seconds bound load time. Appends and snapshots go through ``commit`` (the
update log's group commits, ``actors.storage.GroupCommits``).

Changes accepted while the actor works through its mailbox are committed together once it is
empty (a ``_Flush`` told to itself lands behind what is queued) and reach the Yjs peers as one merged
update: a hot document costs one frame per peer per flush, not one per keystroke.

The y-websocket side is the ``YjsPeers`` mixin, the JSON side ``JsonPeers``. Other instances may hold
the same document: what this actor stores it publishes on ``doc.updates`` (``actors.documents.relay``),
and what they store arrives as ``RemoteUpdates``, applied without storing or publishing again
(the ``Replication`` mixin). Versions come from the database, so this actor may see them out of order
(``actors.documents.versions``).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

from gevent import GreenletExit
from pycrdt import Doc, merge_updates

from actors import runtime
from actors.component import ComponentActor
from actors.documents import crdt
from actors.documents.json_peers import JsonPeers
from actors.documents.messages import (AccessChanged, CurrentText, Deleted, Edit, Join, Leave, PresenceUpdate,
                                      RemoteAwareness, RemoteUpdates, Restore, Subscriber, YjsIn)
from actors.documents.presence import OUTDATED_MS, PresenceTable
from actors.documents.relay import Relay
from actors.documents.replication import Repair, Replication
from actors.documents.subscribers import Change, Subscribers
from actors.documents.versions import HeldVersions
from actors.documents.yjs_peers import YjsPeers
from domain import logs, yjs_sync
from domain.config import CollabConfig
from domain.errors import DomainError, PayloadTooLarge, Unavailable
from domain.metrics import Metrics
from domain.ws_protocol import CLOSE_INTERNAL, CLOSE_POLICY, CLOSE_TRY_AGAIN, WireFrame
from storage import documents as store
from storage.unavailable import STORAGE_DOWN, storage_unavailable

log = logging.getLogger("confab.documents")

#: most updates in one commit: bigger batches save commits but hold back the first update's broadcast
MAX_GROUP_COMMIT = 64
#: updates that did not integrate (missing dependencies) are dropped past these bounds
MAX_PARKED_BYTES, MAX_PARKED_AGE_S = 1 << 20, 30.0
#: messages a caller waits for: a failure is answered to them; for the others it is logged
_ASKS = (Join, Edit, Restore, CurrentText)

Commit = Callable[[store.Append | store.Snapshot], "int | None"]


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
    origin: Subscriber
    update: bytes
    delta: list
    received_at: float


class DocumentActor(YjsPeers, JsonPeers, Replication, ComponentActor):
    def __init__(self, document_id: str, config: CollabConfig, metrics: Metrics, relay: Relay, commit: Commit,
                 on_gone: Callable[[str, str], None]) -> None:
        super().__init__(f"document.{document_id}")
        self.document_id = document_id
        self._config = config
        self._metrics = metrics
        self._relay = relay
        self._commit = commit
        self._on_gone = on_gone  # (document_id, actor_urn): the registry forgets a self-stopped actor
        self._subs = Subscribers(document_id)
        self._since_snapshot = 0
        self._pending: list[_Pending] = []
        self._flush_told = False
        self._snapshot_timer: runtime.Timer | None = None
        self._sweep_timer: runtime.Timer | None = None
        self._repair_timer: runtime.Timer | None = None
        self._failed: str | None = None
        self._deleted = False
        self._changes: list[bytes] = []
        self._deltas: list[list[dict[str, Any]]] = []
        self._ascii = True
        self._old_text = ""
        self._parked = crdt.Parked(MAX_PARKED_BYTES, MAX_PARKED_AGE_S)
        self._step1: dict = {}
        self._doc_events: Any = None  # the subscription of the document's update observer, once attached

    # lifecycle ---------------------------------------------------------------------------------
    def on_start(self) -> None:
        with logs.bound(document_id=self.document_id):
            started = time.perf_counter()
            try:
                snapshot, base, updates = store.load(self.document_id)
                doc = crdt.build(snapshot, updates)
            except BaseException as exc:  # noqa: BLE001 — storage errors and pycrdt panics alike
                if isinstance(exc, (SystemExit, KeyboardInterrupt, GreenletExit)):
                    raise
                self._fail("load_failed", repr(exc))
                return
            self._versions = HeldVersions(updates[-1][0] if updates else base)
            self._attach(doc)
            self._size = len(doc.get_update())
            self._presence = PresenceTable(doc)
            self._metrics.timing("collab.load_time", (time.perf_counter() - started) * 1000)
            logs.event(log, "document.loaded", logging.DEBUG, version=self.version, replayed=len(updates))

    def _attach(self, doc: Doc) -> None:
        self._detach()
        self._doc = doc
        self._text = crdt.text_of(doc)
        self._doc_events = doc.observe(lambda event: self._changes.append(event.update))
        self._text_events = None
        self._follow_text()

    def _detach(self) -> None:
        """Release the observers of the document being replaced or unloaded: pycrdt keeps an observed
        ``Doc`` alive (its callback is held on the Rust side), so without this every rebuilt or evicted
        document, parked updates included, stayed in memory."""
        if self._doc_events is None:
            return
        if self._text_events is not None:
            self._text.unobserve(self._text_events)
            self._text_events = None
        self._doc.unobserve(self._doc_events)
        self._doc_events = None

    @property
    def version(self) -> int:
        """The newest version applied here (others' versions below it may still be on their way)."""
        return self._versions.latest

    def on_stop(self) -> None:
        with logs.bound(document_id=self.document_id):
            self._cancel_timers()
            if self._failed is None and not self._deleted and (self._since_snapshot or self._pending):
                try:
                    self._snapshot()
                except Unavailable:
                    pass
            self._detach()

    def _cancel_timers(self) -> None:
        for timer in (self._snapshot_timer, self._sweep_timer, self._repair_timer):
            if timer is not None:
                timer.cancel()
        self._snapshot_timer = self._sweep_timer = self._repair_timer = None

    def _fail(self, event: str, error: str, code: int = CLOSE_INTERNAL) -> None:
        """Memory can no longer be trusted (or never loaded): drop every peer and stop. ``code``: 1011
        for a bug, 1013 (try again later) when storage is unavailable; either way clients reconnect,
        keep their unsent edits, and sync them to the reloaded document."""
        self._failed = error
        self._pending.clear()  # never broadcast, so never seen: dropping them loses nothing anyone saw
        logs.event(log, f"document.{event}", logging.ERROR, error=error)
        self._subs.close_all(code, "document unavailable, reconnect")
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
                if isinstance(message, _ASKS):
                    raise Unavailable("document unavailable, retry")
                return None  # tells are dropped
            try:
                return self._dispatch(message)
            except DomainError as exc:
                if isinstance(message, _ASKS):
                    raise
                logs.event(log, "document.message_refused", logging.INFO, code=exc.code, reason=exc.message,
                           message=type(message).__name__)
                return None
            except crdt.CrdtPanic as exc:
                self._fail("crdt_panic", str(exc))
            except Exception as exc:  # noqa: BLE001 — a bug: memory may be half-changed, so reload it
                logs.event(log, "document.crashed", logging.ERROR, exc_info=exc, message=type(message).__name__)
                self._fail("crashed", repr(exc))
            if isinstance(message, _ASKS):
                raise Unavailable("document unavailable, retry")
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
        if isinstance(message, PresenceUpdate):
            return self._on_presence(message)
        if isinstance(message, CurrentText):
            return self._on_current_text(message)
        if isinstance(message, Restore):
            return self._on_restore(message)
        if isinstance(message, RemoteUpdates):
            return self._on_remote(message)
        if isinstance(message, RemoteAwareness):
            return self._on_remote_awareness(message)
        if isinstance(message, AccessChanged):
            return self._on_access_changed(message)
        if isinstance(message, Deleted):
            self._deleted = True
            self._pending.clear()
            self._subs.close_all(CLOSE_POLICY, "document deleted")
            self._cancel_timers()
            self.actor_ref.tell(_StopNow())
        elif isinstance(message, _Flush):
            self._flush_told = False
            self._flush()
        elif isinstance(message, _SnapshotTick):
            self._snapshot_timer = None
            if self._since_snapshot:
                self._snapshot()
        elif isinstance(message, Repair):
            self._repair()
        elif isinstance(message, _Sweep):
            self._sweep_timer = None
            removed, payload = self._presence.expire()  # every instance expires on its own clock
            self._relay_presence(None, None, payload, dict.fromkeys(removed), publish=False)
            if self._parked.over():
                self._drop_parked(None)
            self._schedule_sweep()
        return None

    # peers -------------------------------------------------------------------------------------
    def _on_join(self, sub: Subscriber) -> dict[str, Any]:
        self._flush()
        if sub.kind == "json" and not self._subs.has_json():
            self._json_joined()
        self._subs[sub.peer_id] = sub
        self._follow_text()
        if sub.kind == "yjs":
            sub.send(WireFrame(yjs_sync.sync_step1(self._doc.get_state()), binary=True))
            states = self._presence.full_update()
            if states is not None:
                sub.send(WireFrame(yjs_sync.awareness(states), binary=True))
            return {"version": self.version}
        return {"version": self.version, "content": crdt.json_text(self._text),
                "presence": [{"client_id": cid, "state": state} for cid, state in self._presence.states().items()]}

    def _on_leave(self, peer_id: str) -> None:
        self._step1.pop(peer_id, None)
        if self._subs.pop(peer_id, None) is None:
            return
        self._follow_text()
        removed, payload = self._presence.drop_peer(peer_id)
        self._relay_presence(None, None, payload, dict.fromkeys(removed))

    def _on_access_changed(self, message: AccessChanged) -> None:
        for sub in self._subs.of_user(message.user_id):
            if message.role is None:
                logs.event(log, "document.access_revoked", user_id=sub.user_id, peer_id=sub.peer_id)
                sub.close(CLOSE_POLICY, "access revoked")
                self._on_leave(sub.peer_id)
            else:
                self._subs.set_role(sub, message.role)

    # accepting a change ------------------------------------------------------------------------
    def _check_size(self, incoming: int) -> None:
        if self._size + self._parked.bytes + incoming > self._config.max_document_bytes:
            raise PayloadTooLarge("the document would exceed max_document_bytes",
                                  {"max_document_bytes": self._config.max_document_bytes})

    def _accept(self, sub: Subscriber, received_at: float, relay: bytes | None = None,
                delta: list | None = None) -> None:
        """Queue the change just applied (if any) for the next group commit. ``relay``: the update as
        received, when all of it integrated (it then goes out as it came, not re-encoded).

        Commits happen when the mailbox has drained (a ``_Flush`` told to ourselves lands behind the
        messages already queued), or at once when a caller needs the durable result (JSON acks,
        joins, step 2 replies, snapshots). Nothing is broadcast before its commit.
        """
        if not self._changes:
            return
        update = relay if relay is not None else \
            self._changes[0] if len(self._changes) == 1 else merge_updates(*self._changes)
        self._pending.append(_Pending(sub, update, self._json_delta() if delta is None else delta, received_at))
        self._size += len(update)
        if len(self._pending) >= MAX_GROUP_COMMIT:
            self._flush()
        elif not self._flush_told:
            self._flush_told = True
            self.actor_ref.tell(_Flush())

    def _drop_parked(self, sub: Subscriber | None) -> None:
        """Too much waits for dependencies that do not come: drop it by rebuilding the document from
        what is integrated (everything anyone was sent is integrated, so nothing seen is lost)."""
        logs.event(log, "document.parked_dropped", logging.WARNING, bytes=self._parked.bytes,
                   user_id=sub.user_id if sub else None, peer_id=sub.peer_id if sub else None)
        self._metrics.incr("collab.parked_dropped")
        self._attach(crdt.rebuilt(self._doc))
        self._parked.clear()

    def _flush(self) -> int:
        """Append every pending update in one transaction, broadcast them, then publish them for the
        other instances; the version of the last (the newest version if none was pending). A failed
        store fails the actor (memory is ahead of storage) and raises Unavailable."""
        pending, self._pending = self._pending, []
        if not pending:
            return self.version
        try:
            first = self._commit(store.Append(self.document_id, [(p.origin.user_id, p.update) for p in pending]))
        except STORAGE_DOWN as exc:  # memory is now ahead of storage: reload once it is back
            storage_unavailable(exc, log, document_id=self.document_id)
            self._fail("store_failed", repr(exc), code=CLOSE_TRY_AGAIN)
            raise Unavailable("could not store the update; retry shortly") from None
        except Exception as exc:  # noqa: BLE001 — memory is now ahead of storage: reload
            self._fail("store_failed", repr(exc))
            raise Unavailable("could not store the update") from None
        assert first is not None
        changes = [Change(version, p.origin.user_id, p.origin.peer_id, p.update, p.delta)
                   for version, p in enumerate(pending, first)]
        for change in changes:
            self._versions.add(change.version)
        self._subs.send_changes(changes)
        now = time.perf_counter()
        for p in pending:
            self._metrics.timing("collab.edit_latency", (now - p.received_at) * 1000)
        self._relay.publish_updates(self.document_id, [(c.version, c.author_id, c.update, c.delta) for c in changes])
        self._changed(len(pending))
        return changes[-1].version

    def _changed(self, count: int) -> None:
        """``count`` more versions are in memory: snapshot when due, and watch any gap below them."""
        self._since_snapshot += count
        if self._since_snapshot >= self._config.snapshot_every_updates:
            self._snapshot()
        elif self._snapshot_timer is None:
            self._snapshot_timer = runtime.call_later(self._config.snapshot_every_s, self.actor_ref.tell,
                                                      _SnapshotTick())
        self._watch_gap()

    def _relay_presence(self, origin_peer: str | None, user_id: str | None, payload: bytes | None,
                        changed: dict[int, Any], publish: bool = True) -> None:
        """An awareness change to the local peers and, when it happened here, to the other instances."""
        self._subs.send_awareness(origin_peer, user_id, payload, changed)
        if publish and payload is not None:
            self._relay.publish_awareness(self.document_id, user_id, payload)
        self._schedule_sweep()

    def _schedule_sweep(self) -> None:
        if self._sweep_timer is None and (self._presence.has_states or self._parked.bytes):
            self._sweep_timer = runtime.call_later(OUTDATED_MS / 10_000, self.actor_ref.tell, _Sweep())

    def _snapshot(self) -> None:
        self._flush()
        if self._snapshot_timer is not None:
            self._snapshot_timer.cancel()
            self._snapshot_timer = None
        if not self._since_snapshot:
            return  # the flush just wrote it
        version = self._versions.contiguous
        if not self._versions.exact:  # another instance's update is on its way: not a state of the log
            logs.event(log, "document.snapshot_deferred", logging.DEBUG, version=version)
            return
        try:
            state = self._doc.get_update()
            self._commit(store.Snapshot(self.document_id, version, state))
        except Exception as exc:  # noqa: BLE001 — the update log still holds everything
            logs.event(log, "document.snapshot_failed", logging.WARNING, error=repr(exc), version=version)
            return
        self._since_snapshot = 0
        self._size = len(state)
        logs.event(log, "document.snapshot", logging.DEBUG, version=version, bytes=len(state))
