"""The document actor's side of several instances: applying what other instances stored.

A mixin of ``DocumentActor`` (it uses the actor's doc, versions, peers and flush): updates arrive
from ``doc.updates`` (``actors.documents.relay``) as ``RemoteUpdates`` and are applied without
being stored or published again, then relayed to the local peers, Yjs peers as the update itself,
JSON peers as a delta computed against this instance's text. A gap in versions that outlives
``REPAIR_AFTER_S`` (a publish that was lost) is filled from the update log.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from actors import runtime
from actors.documents import crdt
from actors.documents.messages import RemoteAwareness, RemoteUpdates
from actors.documents.presence import PresenceTable
from actors.documents.subscribers import Change, Subscribers
from actors.documents.versions import HeldVersions
from domain import logs
from domain.errors import BadRequest, DomainError, Unavailable
from storage import documents as store

log = logging.getLogger("confab.documents")

#: how long a gap in versions may stay open before the missing updates are read from storage
REPAIR_AFTER_S = 2.0


class Repair:
    pass


class Replication:
    document_id: str
    actor_ref: Any
    _doc: Any
    _text: Any
    _size: int
    _subs: Subscribers
    _versions: HeldVersions
    _presence: PresenceTable
    _parked: crdt.Parked
    _repair_timer: runtime.Timer | None

    if TYPE_CHECKING:  # the actor's own methods
        def _flush(self) -> int: ...
        def _begin_change(self) -> None: ...
        def _json_delta(self) -> list[dict[str, Any]]: ...
        def _changed(self, count: int) -> None: ...
        def _relay_presence(self, origin_peer: str | None, user_id: str | None, payload: bytes | None,
                            changed: dict[int, Any], publish: bool = True) -> None: ...

    def _on_remote(self, message: RemoteUpdates) -> None:
        """Apply updates another instance stored: no store, no publish; relayed to the local peers."""
        fresh = [u for u in message.updates if not self._versions.holds(u[0])]
        if not fresh:
            return  # loaded from storage already, or a redelivery
        try:
            self._flush()  # JSON deltas are positional: local peers get what was applied before, first
        except Unavailable:
            return  # the actor failed and is stopping; the next load reads everything from storage
        changes = []
        for version, author_id, update in fresh:
            self._begin_change()
            try:
                crdt.guarded(self._doc.apply_update, update)
            except BadRequest as exc:  # stored by another instance yet undecodable here: say so, go on
                logs.event(log, "document.remote_refused", logging.ERROR, origin=message.origin, version=version,
                           error=exc.message)
                continue
            self._parked.integrated(self._doc, update)
            self._versions.add(version)
            self._size += len(update)
            changes.append(Change(version, author_id, None, update, self._json_delta()))
        self._subs.send_changes(changes)
        self._changed(len(fresh))

    def _on_remote_awareness(self, message: RemoteAwareness) -> None:
        try:
            changed = self._presence.apply(f"remote.{message.origin}", message.payload)
        except DomainError as exc:
            logs.event(log, "document.remote_refused", logging.ERROR, origin=message.origin, error=exc.message)
            return
        self._relay_presence(None, message.user_id, message.payload, changed, publish=False)

    def _watch_gap(self) -> None:
        if self._versions.gap() is not None and self._repair_timer is None:
            self._repair_timer = runtime.call_later(REPAIR_AFTER_S, self.actor_ref.tell, Repair())

    def _repair(self) -> None:
        """A gap outlived ``REPAIR_AFTER_S``: its publish was lost (or is very late); read it from storage."""
        self._repair_timer = None
        gap = self._versions.gap()
        if gap is None:
            return
        try:
            stored = store.updates_between(self.document_id, *gap)
        except Exception as exc:  # noqa: BLE001 — try again later
            logs.event(log, "document.repair_failed", logging.WARNING, error=repr(exc), after=gap[0], up_to=gap[1])
            self._watch_gap()
            return
        missing = [row for row in stored if not self._versions.holds(row[0])]
        logs.event(log, "document.gap_repaired", logging.WARNING, after=gap[0], up_to=gap[1], missing=len(missing))
        self._on_remote(RemoteUpdates("storage", missing))
