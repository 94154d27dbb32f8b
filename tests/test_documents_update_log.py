"""The update log's off-hub writer: group commits on a dedicated OS thread, per-document rollback."""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import gevent
import pytest
from gevent import monkey

from actors import runtime
from domain.errors import NotFound
from storage.document_log import SqliteUpdateLog

_blocking_sleep = monkey.get_original("time", "sleep")


def test_batch_thread_groups_waiters_and_keeps_the_hub_running() -> None:
    batches: list[list[Any]] = []

    def process(items: list[Any]) -> list[Any]:
        _blocking_sleep(0.2)  # blocks this OS thread the way an fsync does, never the hub
        batches.append(items)
        return [ValueError(f"refused {item}") if item == "bad" else item.upper() for item in items]

    thread = runtime.BatchThread(process, max_batch=8)
    ticks: list[float] = []

    def tick() -> None:
        while True:
            gevent.sleep(0.01)
            ticks.append(gevent.get_hub().loop.now())

    ticker = gevent.spawn(tick)
    first = gevent.spawn(thread.submit, "a")
    gevent.sleep(0.1)  # the first batch is now running on the thread
    ticks_during_commit = len(ticks)
    rest = [gevent.spawn(thread.submit, item) for item in ("b", "bad", "c")]
    gevent.joinall([first, *rest], timeout=10)
    ticker.kill()
    thread.close()
    assert ticks_during_commit >= 2, "the hub stalled while the thread committed"
    assert batches == [["a"], ["b", "bad", "c"]]  # everything queued during a commit shares the next one
    assert [g.value for g in (first, rest[0], rest[2])] == ["A", "B", "C"]
    assert isinstance(rest[1].exception, ValueError)  # only its own submitter sees the failure
    with pytest.raises(RuntimeError):
        thread.submit("late")


def test_batch_thread_fails_every_waiter_of_a_failed_batch() -> None:
    def process(items: list[Any]) -> list[Any]:
        raise sqlite3.OperationalError("disk I/O error")

    thread = runtime.BatchThread(process, max_batch=8)
    waiters = [gevent.spawn(thread.submit, i) for i in range(3)]
    gevent.joinall(waiters, timeout=10)
    thread.close()
    assert all(isinstance(w.exception, sqlite3.OperationalError) for w in waiters)


def _database(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = wal")
    conn.execute("CREATE TABLE document (id TEXT PRIMARY KEY, version INTEGER, updated_at TEXT)")
    conn.execute("CREATE TABLE document_update (document_id TEXT REFERENCES document (id), version INTEGER, "
                 "author_id TEXT, data BLOB, created_at TEXT, PRIMARY KEY (document_id, version))")
    conn.executemany("INSERT INTO document VALUES (?, 0, '')", [("d1",), ("d2",)])
    return conn


def test_versions_come_from_the_database_and_a_failure_rolls_back_only_its_own_batch(tmp_path: Path) -> None:
    check = _database(tmp_path / "log.db")
    check.execute("UPDATE document SET version = 4 WHERE id = 'd2'")  # another instance appended 1..4
    check.execute("INSERT INTO document_update VALUES ('d2', 6, 'u', x'00', '')")  # a row in the way of 6
    log = SqliteUpdateLog(str(tmp_path / "log.db"), busy_timeout_ms=1000)
    outcomes = log.append_batches([("d1", [("u", b"x"), ("u", b"y")]),
                                   ("gone", [("u", b"z")]),  # deleted document: no row moves
                                   ("d2", [("u", b"a"), ("u", b"b")]),  # 5 and 6: the insert of 6 fails
                                   ("d1", [("u", b"w")])])  # continues after the first d1 batch
    assert outcomes[0] == 1 and isinstance(outcomes[1], NotFound)
    assert isinstance(outcomes[2], sqlite3.IntegrityError) and outcomes[3] == 3
    check.execute("DELETE FROM document_update WHERE document_id = 'd2'")
    assert log.append_batches([("d2", [("u", b"v")])]) == [5]  # its failed batch moved nothing
    log.close()
    assert check.execute("SELECT id, version FROM document ORDER BY id").fetchall() == [("d1", 3), ("d2", 5)]
    rows = check.execute("SELECT document_id, version, data FROM document_update ORDER BY 1, 2").fetchall()
    assert rows == [("d1", 1, b"x"), ("d1", 2, b"y"), ("d1", 3, b"w"), ("d2", 5, b"v")]
