"""The storage component: opens the database and migrates it at start-up, then watches it; and
``GroupCommits`` and ``HubStatements``, where the components' group commits run.

Opening and migrating happen before the actor starts, so a bad database URL stops the process with
one line instead of a half-started server. The actor checks the connection every few seconds and
reports the engine, schema version and round-trip time as the ``storage`` component's health.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Generic, TypeVar

import peewee
import pykka

from actors import runtime
from actors.component import HealthSink, PeriodicActor
from actors.supervisor import ChildHandle, ChildSpec, start_child
from domain import logs
from domain.config import AppConfig
from storage import migrations
from storage.db import (engine_name, is_sqlite, open_database, reading, release_own_connection, use_own_connection,
                        use_own_connection_here)

log = logging.getLogger("confab.storage")

T = TypeVar("T")
R = TypeVar("R")


#: while the database is down it is checked this often, so /ready turns 200 soon after it is back
DOWN_CHECK_INTERVAL_S = 1.0


class StorageActor(PeriodicActor):
    def __init__(self, health_sink: HealthSink, schema_version: int, interval_s: float) -> None:
        super().__init__("storage", health_sink, interval_s)
        self._schema_version = schema_version
        self._healthy_interval_s = interval_s
        self._down_since: float | None = None

    def tick(self) -> None:
        started = time.perf_counter()
        try:
            with reading() as db:
                db.execute_sql("SELECT 1")
        except peewee.PeeweeException as exc:
            logs.event(log, "storage.check_failed", logging.ERROR, error=str(exc).splitlines()[0])
            self.report_health("down", False, engine=engine_name(), error=str(exc).splitlines()[0])
            self._down_since = self._down_since or time.monotonic()
            self.interval_s = min(self._healthy_interval_s, DOWN_CHECK_INTERVAL_S)
            return
        if self._down_since is not None:
            logs.event(log, "storage.recovered", down_s=round(time.monotonic() - self._down_since, 1))
            self._down_since, self.interval_s = None, self._healthy_interval_s
        self.report_health("ok", True, engine=engine_name(), schema_version=self._schema_version,
                           ping_ms=round((time.perf_counter() - started) * 1000, 2))


def start_storage(supervisor: pykka.ActorRef, config: AppConfig, check_interval_s: float = 5.0) -> ChildHandle:
    """Open and migrate the database (raises StorageUnavailable), then supervise its health actor."""
    db = open_database(config)
    version = migrations.migrate(db)
    return start_child(supervisor, ChildSpec(
        "storage", "storage", lambda sink: StorageActor.start(sink, version, check_interval_s)))


class HubStatements(Generic[T, R]):
    """Group commits whose statements run in the caller's greenlet and whose COMMIT (the fsync) runs on
    a dedicated OS thread with the caller's own connection (SQLite), for a writer whose batches are many
    small statements. On a thread of their own, each SQLite step releases and re-takes the GIL, and
    while the hub is busy every re-take waits up to the interpreter's switch interval (5 ms): dozens of
    waits per batch (the chat writer at 20,000 deliveries/s: ack p50 70-240 ms, against 40-80 ms here,
    three alternating runs each). Only the COMMIT changes threads here, so the hub goes on while the disk
    syncs. On PostgreSQL ``commit`` simply runs in the caller's greenlet (psycopg waits cooperatively)."""

    def __init__(self, commit: Callable[[T], R]) -> None:
        self._commit = commit
        self._thread = runtime.BatchThread(lambda calls: [call() for call in calls], 1) if is_sqlite() else None
        self._bound: set[Any] = set()

    def submit(self, item: T) -> R:
        """``commit(item)`` in this greenlet (on its own connection, bound at its first call)."""
        if self._thread is not None:
            here = runtime.current()
            if here not in self._bound:
                use_own_connection_here(self._thread.submit)
                self._bound.add(here)
        return self._commit(item)

    def close(self) -> None:
        """After the last submit: end the commit thread, then close the connections bound to it."""
        if self._thread is not None:
            self._thread.close()
            for greenlet in self._bound:
                release_own_connection(greenlet)
            self._bound.clear()


class GroupCommits(Generic[T, R]):
    """A component's group commits: ``submit(item)`` waits, cooperatively, until ``process`` has
    committed the batch holding ``item`` and returns its outcome (or raises its exception).

    On SQLite, ``process`` runs on a dedicated OS thread with a connection of its own; items submitted
    while a batch commits form the next batch (one fsync for all of them), and an fsync never stalls
    the hub. On PostgreSQL it runs in the caller's greenlet: psycopg 3 waits cooperatively, and
    transactions from several callers proceed side by side on pooled connections.
    """

    def __init__(self, process: Callable[[list[T]], list[R | Exception]], max_batch: int) -> None:
        self._process = process
        self._own_connection = False
        self._thread = runtime.BatchThread(self._on_thread, max_batch, on_close=release_own_connection) \
            if is_sqlite() else None

    def _on_thread(self, items: list[T]) -> list[R | Exception]:
        if not self._own_connection:
            use_own_connection()
            self._own_connection = True
        return self._process(items)

    def submit(self, item: T) -> R:
        if self._thread is not None:
            return self._thread.submit(item)
        (outcome,) = self._process([item])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def close(self) -> None:
        """After the last submit: finish what is queued and release the thread and its connection."""
        if self._thread is not None:
            self._thread.close()
