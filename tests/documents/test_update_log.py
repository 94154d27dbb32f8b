"""Group commits on a dedicated OS thread (runtime.BatchThread, actors.storage.GroupCommits) and the
update log's per-document rollback."""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import gevent
import pytest
from gevent import monkey


from actors import runtime
from actors.storage import GroupCommits
from domain.errors import NotFound
from storage import accounts, migrations
from storage import documents as store
from storage.db import close_database, open_database, reading, unit_of_work
from storage.models import Document, DocumentUpdate
from tests.support import harness

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


def test_versions_come_from_the_database_and_a_failure_rolls_back_only_its_own_batch(tmp_path: Path) -> None:
    """The update log's group commits on their own OS thread and connection (SQLite): each document's
    batch in a savepoint, versions numbered by the database."""
    db = open_database(harness.test_config(tmp_path))
    migrations.migrate(db)
    owner = accounts.create_user("owner", "owner@example.com", "Owner", "x").id
    d1, d2 = (store.create_document(owner, title).id for title in ("one", "two"))
    with unit_of_work():  # another instance appended 1..4 to d2, and a row is in the way of its 6
        Document.update(version=4).where(Document.id == d2).execute()
        DocumentUpdate.create(document=d2, version=6, author_id=owner, data=b"\0")
    commits = GroupCommits(store.commit_many, max_batch=8)
    items = [store.Append(d1, [(owner, b"x"), (owner, b"y")]),
             store.Append("gone", [(owner, b"z")]),  # no such document: nothing moves
             store.Append(d2, [(owner, b"a"), (owner, b"b")]),  # 5 and 6: the insert of 6 fails
             store.Snapshot(d1, 2, b"state"),
             store.Append(d1, [(owner, b"w")])]  # continues after the first d1 batch
    waiters = [gevent.spawn(commits.submit, item) for item in items]
    gevent.joinall(waiters, timeout=10)
    assert waiters[0].value == 1 and isinstance(waiters[1].exception, NotFound)
    assert isinstance(waiters[2].exception, sqlite3.IntegrityError) and waiters[3].value is None
    assert waiters[4].value == 3
    with unit_of_work():
        DocumentUpdate.delete().where(DocumentUpdate.document == d2).execute()
    assert commits.submit(store.Append(d2, [(owner, b"v")])) == 5  # its failed batch moved nothing
    commits.close()
    with reading():
        assert {d.id: d.version for d in Document.select()} == {d1: 3, d2: 5}
        rows = [(u.document_id, u.version, bytes(u.data)) for u in DocumentUpdate.select()
                .order_by(DocumentUpdate.document, DocumentUpdate.version)]
        snapshots = [(s.document_id, s.version, bytes(s.state)) for s in store.DocumentSnapshot.select()]
    assert sorted(rows) == sorted([(d1, 1, b"x"), (d1, 2, b"y"), (d1, 3, b"w"), (d2, 5, b"v")])
    assert snapshots == [(d1, 2, b"state")]
    close_database()
