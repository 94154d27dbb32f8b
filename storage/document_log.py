"""The document update log's own SQLite connection, for group commits on a dedicated OS thread.

Python's ``sqlite3`` releases the GIL but blocks the gevent hub for the whole commit (an fsync, ~1 ms),
so every socket of the process would wait on every document's commit. This connection is used only
by ``actors.runtime.BatchThread``'s thread (never peewee's pool, whose locks and connection state are
greenlet-bound); WAL and ``synchronous=FULL`` keep each acknowledged commit durable across ``kill -9``.
PostgreSQL needs none of this: psycopg 3 waits cooperatively.
"""
from __future__ import annotations

import sqlite3
from typing import Any

from storage.documents import Updates, append_rows
from storage.models import utcnow

#: (document_id, [(author_id, data), ...]): one document's accepted updates, in order
Batch = tuple[str, Updates]


class SqliteUpdateLog:
    def __init__(self, path: str, busy_timeout_ms: int) -> None:
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False,
                                   timeout=self._busy_timeout_ms / 1000)
            for pragma in ("journal_mode = wal", "synchronous = full", "foreign_keys = 1",
                           f"busy_timeout = {int(self._busy_timeout_ms)}"):
                conn.execute(f"PRAGMA {pragma}")
            self._conn = conn
        return self._conn

    def append_batches(self, batches: list[Batch]) -> list[Any]:
        """Commit every document's batch in one transaction; per batch, the version of its first update
        or the exception that rolled back that batch alone (a savepoint each: a deleted document fails
        only its own)."""
        conn = self._connection()
        outcomes: list[Any] = []
        now = utcnow().isoformat(" ")  # the text form peewee writes and reads for a DateTimeField
        conn.execute("BEGIN IMMEDIATE")
        try:
            for document_id, updates in batches:
                conn.execute("SAVEPOINT batch")
                try:
                    outcomes.append(append_rows(conn, "?", document_id, updates, now))
                except Exception as exc:  # noqa: BLE001 — reported to that document's actor
                    conn.execute("ROLLBACK TO batch")
                    outcomes.append(exc)
                conn.execute("RELEASE batch")
            conn.execute("COMMIT")
        except BaseException:
            self.close()  # closing rolls back; the next batch starts on a fresh connection
            raise
        return outcomes

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
