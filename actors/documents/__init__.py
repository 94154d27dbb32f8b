"""Collaborative documents: a registry of document actors on pycrdt, reached through ``DocumentService``.

``start_documents`` is the bootstrap's entry point: it returns the service, which routes use, and the
documents' part of every /ws session (``ws_frames``). Outside the code the component keeps its first
name, ``collab``: the config section, the metrics and the health component (a contract with operators).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pykka

from actors import runtime
from actors.cluster import SingletonJob
from actors.documents import compaction, crdt
from actors.documents import messages as doc_messages
from actors.documents import ws_frames
from actors.documents.registry import DocumentTable, Notify, Open, RegistryActor, Release, DocumentCounts
from actors.documents.relay import Relay
from actors.session import SessionFeature
from actors.storage import GroupCommits
from actors.supervisor import ChildHandle, ChildSpec, start_child
from domain import text_delta
from domain.broker import Broker
from domain.config import AppConfig
from domain.errors import Conflict, RateLimited
from domain.metrics import Metrics
from domain.ratelimit import RateLimiter
from storage import documents as store

#: documents whose pending updates share one commit (one fsync) at most
MAX_DOCUMENTS_PER_COMMIT = 64
#: restores per user: a burst, then one every 5 s; a document that keeps moving gets this many tries
RESTORES_PER_S, RESTORE_BURST, RESTORE_ATTEMPTS = 0.2, 3, 3


class DocumentService:
    """The documents component as the rest of the server sees it."""

    def __init__(self, registry: ChildHandle, config: AppConfig, relay: Relay) -> None:
        self.registry = registry
        self.config = config
        self.relay = relay
        self._restores = RateLimiter(RESTORES_PER_S, RESTORE_BURST)  # per user

    def open(self, document_id: str) -> pykka.ActorRef:
        """The document's actor, loaded if needed, with a lease the caller must ``release``."""
        return self.registry.ask(Open(document_id))

    def release(self, document_id: str, ref: pykka.ActorRef) -> None:
        self.registry.tell(Release(document_id, ref.actor_urn))

    def access_changed(self, document_id: str, user_id: str, role: str | None) -> None:
        """A share changed: a user without a role any more loses their live sockets on the document
        (on every instance)."""
        self.registry.tell(Notify(document_id, doc_messages.AccessChanged(user_id, role)))
        self.relay.publish_access(document_id, user_id, role)

    def deleted(self, document_id: str) -> None:
        self.registry.tell(Notify(document_id, doc_messages.Deleted()))
        self.relay.publish_deleted(document_id)

    def content(self, document_id: str, version: int | None = None) -> tuple[int, str]:
        """(version, text) from durable storage: every accepted update is there before anyone saw it.
        The document is rebuilt on a worker thread: CPU work that must not hold every socket."""
        snapshot, base, updates = store.load(document_id, version)
        return (updates[-1][0] if updates else base), runtime.run_blocking(crdt.content_of, snapshot, updates)

    def restore(self, document_id: str, version: int, user_id: str) -> dict[str, Any]:
        """Bring the text back to ``version`` by applying the difference as a new update. The difference
        is computed on a worker thread against the text of the moment and applied only if the document
        has not moved since (else computed again): a diff of a large document takes a while."""
        wait = self._restores.check(user_id)
        if wait:
            raise RateLimited(wait, "restoring too often")
        _version, target = self.content(document_id, version)
        ref = self.open(document_id)
        try:
            for _attempt in range(RESTORE_ATTEMPTS):
                base, current = ref.ask(doc_messages.CurrentText(), timeout=10)
                ops = runtime.run_blocking(text_delta.diff_ops, current, target)
                done = ref.ask(doc_messages.Restore(user_id, ops, base), timeout=10)
                if done is not None:
                    return done
        finally:
            self.release(document_id, ref)
        raise Conflict("the document kept changing during the restore; retry")

    def stats(self) -> dict[str, Any]:
        return self.registry.ask(DocumentCounts())


@dataclass(frozen=True)
class Documents:
    """What the documents component gives the rest of the server."""
    service: DocumentService
    session: SessionFeature
    jobs: tuple[SingletonJob, ...]  # snapshot compaction


def start_documents(supervisor: pykka.ActorRef, config: AppConfig, metrics: Metrics, broker: Broker) -> Documents:
    """Start the registry under ``supervisor`` and follow the other instances' updates on ``doc.updates``;
    returns the component, its /ws frames and its singleton job."""
    table = DocumentTable()
    commits = GroupCommits(lambda items: store.commit_many(items), MAX_DOCUMENTS_PER_COMMIT)
    relay = Relay(broker, broker.instance_id, cluster=config.broker.backend == "redis")
    handle = start_child(supervisor, ChildSpec(
        "collab", "collab", lambda sink: RegistryActor.start(sink, config.collab, metrics, table, relay,
                                                             commits)))
    relay.subscribe(table.loaded)
    compact = SingletonJob(compaction.JOB_NAME, config.collab.snapshot_every_s,
                           compaction.compactor(config.collab, commits.submit))
    service = DocumentService(handle, config, relay)
    return Documents(service, ws_frames.DocumentFrames(service).session_feature(), (compact,))
