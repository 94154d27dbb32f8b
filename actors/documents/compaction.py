"""Snapshot compaction as a singleton job: one instance of the cluster writes the snapshots that the
document actors did not (their instance died first, or the document never sat still long enough for
an exact snapshot, see ``actors.documents.versions``).

Each run picks the documents furthest behind (at least ``snapshot_every_updates`` updates after
their latest snapshot), rebuilds each from storage and stores a snapshot at its last stored version.
The committed log is always a prefix 1..v, so that snapshot holds exactly 1..v. Nothing is deleted:
the update log is the history that ``GET …/versions/{v}`` and ``…/history`` answer from.
"""
from __future__ import annotations

import logging
from typing import Callable

from actors import runtime
from actors.documents import crdt
from domain import logs
from domain.config import CollabConfig
from storage import documents as store

log = logging.getLogger("confab.documents")

JOB_NAME = "collab.compaction"
#: most documents compacted in one run; the rest wait for the next
MAX_DOCUMENTS_PER_RUN = 100


def compactor(config: CollabConfig, commit: Callable[[store.Snapshot], object]) -> Callable[[], None]:
    """The job: ``commit`` stores a snapshot (the update log's group commits)."""
    def run() -> None:
        for document_id in store.documents_behind(config.snapshot_every_updates, MAX_DOCUMENTS_PER_RUN):
            with logs.bound(document_id=document_id, job=JOB_NAME):
                try:
                    compact(document_id, commit)
                except Exception as exc:  # noqa: BLE001 — one broken document must not stop the others
                    logs.event(log, "document.compaction_failed", logging.ERROR, error=repr(exc))
    return run


def compact(document_id: str, commit: Callable[[store.Snapshot], object]) -> None:
    """Store a snapshot at the document's last stored version (rebuilt on a worker thread: CPU work
    that must not hold the hub)."""
    snapshot, _base, updates = store.load(document_id)
    if not updates:
        return
    version = updates[-1][0]
    state = runtime.run_blocking(crdt.state_of, snapshot, updates)
    commit(store.Snapshot(document_id, version, state))
    logs.event(log, "document.compacted", version=version, replayed=len(updates), bytes=len(state))
