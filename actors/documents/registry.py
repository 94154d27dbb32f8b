"""The registry: at most one document actor per document in the process, leased by the sockets using it.

``Open`` activates the actor (it loads itself before its first message, so two sockets opening a
cold document at once simply queue behind the load) and takes a lease; ``Release`` gives it back.
When the last lease goes, an idle timer evicts the actor, which writes a final snapshot as it stops.
The table lives outside the actor so a restarted registry still knows every live document.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pykka

from actors import runtime
from actors.component import ComponentActor, HealthSink
from actors.documents.document import DocumentActor
from actors.documents.relay import Relay
from actors.storage import GroupCommits
from domain import logs
from domain.config import CollabConfig
from domain.metrics import Metrics

log = logging.getLogger("confab.documents")


@dataclass(frozen=True)
class Open:
    document_id: str


@dataclass(frozen=True)
class Release:
    document_id: str
    actor_urn: str


@dataclass(frozen=True)
class Notify:
    """Tell the document's actor ``message`` if it is loaded (access changes, deletion)."""
    document_id: str
    message: Any


@dataclass(frozen=True)
class Forget:
    document_id: str
    actor_urn: str


@dataclass(frozen=True)
class DocumentCounts:
    """Ask: documents loaded, leases held, idle timers running."""


@dataclass(frozen=True)
class _Evict:
    document_id: str
    actor_urn: str


@dataclass
class LoadedDocument:
    """A document actor of this process, the leases its sockets and requests hold on it, and the
    timer that stops it once idle."""
    ref: pykka.ActorRef
    leases: int = 0
    idle_timer: runtime.Timer | None = None


@dataclass
class DocumentTable:
    entries: dict[str, LoadedDocument] = field(default_factory=dict)

    def loaded(self, document_id: str) -> pykka.ActorRef | None:
        """The document's live actor in this process, if any (read from any greenlet)."""
        entry = self.entries.get(document_id)
        return entry.ref if entry is not None and entry.ref.is_alive() else None


class RegistryActor(ComponentActor):
    def __init__(self, health_sink: HealthSink, config: CollabConfig, metrics: Metrics, table: DocumentTable,
                 relay: Relay, commits: GroupCommits) -> None:
        super().__init__("collab", health_sink)
        self._config = config
        self._metrics = metrics
        self._table = table
        self._relay = relay
        self._commits = commits  # the update log's group commits, closed once no document can append

    def on_start(self) -> None:
        self._publish()

    def on_stop(self) -> None:
        """Stop every document (each writes its final snapshot) before the process goes."""
        for document_id, entry in list(self._table.entries.items()):
            self._drop(document_id, entry)
            try:
                entry.ref.stop(block=True, timeout=10)
            except pykka.ActorDeadError:
                pass
            except pykka.Timeout:
                logs.event(log, "document.stop_timeout", logging.ERROR, document_id=document_id)
        self._commits.close()
        self._publish()

    def handle(self, message: Any) -> Any:
        entries = self._table.entries
        if isinstance(message, Open):
            entry = entries.get(message.document_id)
            if entry is None or not entry.ref.is_alive():
                ref = DocumentActor.start(message.document_id, self._config, self._metrics, self._relay,
                                          self._commits.submit, self._forget_later)
                entry = entries[message.document_id] = LoadedDocument(ref)
                self._publish()
            entry.leases += 1
            if entry.idle_timer is not None:
                entry.idle_timer.cancel()
                entry.idle_timer = None
            return entry.ref
        if isinstance(message, Release):
            entry = entries.get(message.document_id)
            if entry is not None and entry.ref.actor_urn == message.actor_urn:
                entry.leases = max(0, entry.leases - 1)
                if entry.leases == 0 and entry.idle_timer is None:
                    entry.idle_timer = runtime.call_later(self._config.idle_evict_s, self.actor_ref.tell,
                                                          _Evict(message.document_id, message.actor_urn))
            return None
        if isinstance(message, _Evict):
            entry = entries.get(message.document_id)
            if entry is not None and entry.ref.actor_urn == message.actor_urn and entry.leases == 0:
                entry.idle_timer = None
                self._drop(message.document_id, entry)
                entry.ref.stop(block=False)
                logs.event(log, "document.evicted", logging.DEBUG, document_id=message.document_id)
            return None
        if isinstance(message, Forget):
            entry = entries.get(message.document_id)
            if entry is not None and entry.ref.actor_urn == message.actor_urn:
                self._drop(message.document_id, entry)
            return None
        if isinstance(message, Notify):
            entry = entries.get(message.document_id)
            if entry is not None:
                entry.ref.tell(message.message)
            return entry is not None
        if isinstance(message, DocumentCounts):
            return {"documents": len(entries), "leases": sum(e.leases for e in entries.values()),
                    "idle_timers": sum(e.idle_timer is not None for e in entries.values())}
        return None

    def _forget_later(self, document_id: str, actor_urn: str) -> None:
        self.actor_ref.tell(Forget(document_id, actor_urn))

    def _drop(self, document_id: str, entry: LoadedDocument) -> None:
        if entry.idle_timer is not None:
            entry.idle_timer.cancel()
            entry.idle_timer = None
        if self._table.entries.get(document_id) is entry:
            del self._table.entries[document_id]
        self._publish()

    def _publish(self) -> None:
        count = len(self._table.entries)
        self._metrics.gauge("documents.active", count)
        self.report_health("ok", True, documents=count)
