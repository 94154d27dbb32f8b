"""The document actor's y-websocket side: sync, updates, awareness (a mixin of ``DocumentActor``).

y-websocket has no error message, so what is refused here is logged and dropped and the socket goes
on. Three things a single client could otherwise abuse are bounded:

- sync step 1 asks for everything the client lacks, the whole document for a new client: answered at
  most ``STEP1_BURST`` times in a row per socket, then once every ``1 / STEP1_RATE`` seconds, and
  never while the socket still has not read the previous answers (its outbox is behind);
- an update whose dependencies the document lacks integrates nothing and would wait in pycrdt's
  pending store for ever: such updates are counted (``crdt.Parked``) and dropped past a bound;
- awareness states are bounded in number and size per socket (``actors.documents.presence``).
"""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from actors.documents import crdt
from actors.documents.messages import Subscriber, YjsIn
from actors.documents.presence import PresenceTable
from actors.documents.subscribers import Subscribers
from domain import logs, yjs_sync
from domain.errors import DomainError, Forbidden
from domain.metrics import Metrics
from domain.ratelimit import TokenBucket
from domain.ws_protocol import WireFrame
from storage.documents import role_rank

log = logging.getLogger("confab.documents")

STEP1_BURST, STEP1_RATE = 5, 0.5


class YjsPeers:
    document_id: str
    _doc: Any
    _subs: Subscribers
    _presence: PresenceTable
    _parked: crdt.Parked
    _metrics: Metrics
    _step1: dict[str, TokenBucket]

    if TYPE_CHECKING:  # the actor's own methods
        def _flush(self) -> int: ...
        def _check_size(self, incoming: int) -> None: ...
        def _begin_change(self) -> None: ...
        def _accept(self, sub: Subscriber, received_at: float, relay: bytes | None = None,
                    delta: list | None = None) -> None: ...
        def _drop_parked(self, sub: Subscriber) -> None: ...
        def _relay_presence(self, origin_peer: str | None, user_id: str | None, payload: bytes | None,
                            changed: dict[int, Any], publish: bool = True) -> None: ...

    def _on_yjs(self, message: YjsIn) -> None:
        sub = self._subs.get(message.peer_id)
        if sub is None:
            return
        msg = message.message
        try:
            if isinstance(msg, yjs_sync.SyncStep1):
                self._answer_step1(sub, msg.state_vector)
            elif isinstance(msg, (yjs_sync.SyncStep2, yjs_sync.SyncUpdate)):
                self._on_yjs_update(sub, msg.update, message.received_at)
            elif isinstance(msg, yjs_sync.AwarenessUpdate):
                changed = self._presence.apply(sub.peer_id, msg.payload)
                self._relay_presence(sub.peer_id, sub.user_id, msg.payload, changed)
            elif isinstance(msg, yjs_sync.QueryAwareness):
                states = self._presence.full_update()
                if states is not None:
                    sub.send(WireFrame(yjs_sync.awareness(states), binary=True))
        except DomainError as exc:  # y-websocket has no error message: log it and keep serving the socket
            self._metrics.incr(f"errors.{exc.code}")
            logs.event(log, "document.yjs_refused", logging.INFO, code=exc.code, reason=exc.message,
                       user_id=sub.user_id, peer_id=sub.peer_id)

    def _answer_step1(self, sub: Subscriber, state_vector: bytes) -> None:
        now = time.monotonic()
        bucket = self._step1.get(sub.peer_id)
        if bucket is None:
            bucket = self._step1[sub.peer_id] = TokenBucket(STEP1_RATE, STEP1_BURST, now)
        if sub.busy() or bucket.take(now):
            self._metrics.incr("collab.sync_step1_refused")
            logs.event(log, "document.step1_refused", logging.INFO, user_id=sub.user_id, peer_id=sub.peer_id,
                       backlogged=sub.busy())
            return
        self._flush()  # step 2 carries the state: only what is durable
        sub.send(WireFrame(yjs_sync.sync_step2(crdt.guarded(self._doc.get_update, state_vector)), binary=True))

    def _on_yjs_update(self, sub: Subscriber, update: bytes, received_at: float) -> None:
        if update == b"\x00\x00":
            return
        if role_rank(sub.role) < role_rank("editor"):
            raise Forbidden("viewer update refused")
        self._check_size(len(update))
        self._begin_change()
        crdt.guarded(self._doc.apply_update, update)
        complete = self._parked.integrated(self._doc, update)
        self._accept(sub, received_at, relay=update if complete else None)  # relayed as received when whole
        if not complete:
            self._metrics.incr("collab.updates_parked")
            if self._parked.over():
                self._drop_parked(sub)
