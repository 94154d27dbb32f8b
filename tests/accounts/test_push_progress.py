"""Web Push progress is stored (``actors.push``): the next holder of the ``push.dispatch`` lease, and the
server restarted after a SIGKILL, push what was created while nobody pushed, once, and nothing twice; a
holder that lost the lease stops; what is older than ``push.max_age_s`` when the job reaches it is
counted and logged, not pushed."""
from __future__ import annotations

import logging
import sqlite3
import time
from datetime import timedelta
from pathlib import Path
from typing import Callable, Iterator

import pytest

from actors.push import CURSOR, SETTLE, dispatch_job
from storage import job_cursors
from storage.db import unit_of_work
from storage.models import JobCursor, Notification, new_id, utcnow
from tests.support.harness import LogRecords, Server, ServerProcess
from tests.support.push_service import PushService, Subscriber
from tests.support.recording_metrics import RecordingMetrics
from tests.support.waiting import wait_for

pytestmark = pytest.mark.engines("sqlite", "postgresql")
#: the server's own push job waits an hour between runs: the tests run the job themselves, each time
#: built afresh, as the instance taking the lease over builds it
SERVER_CONFIG = {"chat": {"send_rate": "100"}, "webhooks": {"allowed_targets": "127.0.0.1/32"},
                 "push": {"interval_s": "3600"}}
ALLOWED = {"CONFAB_WEBHOOKS_ALLOWED_TARGETS": "127.0.0.1/32"}


@pytest.fixture(scope="module")
def service() -> Iterator[PushService]:
    pushes = PushService()
    yield pushes
    pushes.close()


def next_holder(server: Server, metrics: RecordingMetrics | None = None) -> Callable[[], None]:
    """One run of the job as the instance that takes the lease over builds it: nothing carried over."""
    services = server.confab.services
    return dispatch_job(services.config, services.chat.presence, metrics or RecordingMetrics()).run


def run_until(run: Callable[[], None], condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Run the job again and again, as its lease holder does, until ``condition()``."""
    wait_for(lambda: run() or condition(), timeout=timeout, interval=0.2)


def test_the_next_holder_pushes_what_was_created_in_between_and_nothing_twice(server: Server,
                                                                              service: PushService) -> None:
    reader = Subscriber(server, service, "/progress/resume")
    first = next_holder(server)
    first()  # it holds the lease: on a fresh install its first run stores the cursor, at "now"
    reader.mention("one")
    run_until(first, lambda: reader.pushed() == ["one"])
    reader.mention("two")  # the first holder is gone: nobody pushes these yet
    reader.mention("three")
    second = next_holder(server)
    run_until(second, lambda: len(reader.pushed()) >= 3)
    time.sleep(SETTLE.total_seconds())
    second()
    next_holder(server)()  # and a third holder after it: nothing left
    assert reader.pushed() == ["one", "two", "three"]


def test_a_holder_that_lost_the_lease_stops_at_its_next_move(server: Server) -> None:
    stale = job_cursors.load(CURSOR, utcnow())
    moved = job_cursors.move(CURSOR, stale, stale.at, stale.after_id)  # the new holder went on
    assert moved is not None and moved.version == stale.version + 1
    assert job_cursors.move(CURSOR, stale, utcnow(), "late") is None
    assert job_cursors.load(CURSOR, utcnow()) == moved


def test_what_is_older_than_max_age_is_counted_and_logged_not_pushed(server: Server, service: PushService) -> None:
    reader = Subscriber(server, service, "/progress/stale")
    reader.mention("old news")
    reader.mention("fresh")
    job_cursors.load(CURSOR, utcnow())
    with unit_of_work():  # the job last ran two hours ago, and the first mention is from 90 minutes ago
        JobCursor.update(at=utcnow() - timedelta(hours=2), after_id="").where(JobCursor.name == CURSOR).execute()
        Notification.update(created_at=utcnow() - timedelta(minutes=90)).where(
            (Notification.user == reader.login["user"]["id"]) & Notification.snippet.endswith("old news")).execute()
    metrics = RecordingMetrics()
    with LogRecords(logging.WARNING) as records:
        run_until(next_holder(server, metrics), lambda: "fresh" in reader.pushed())
    assert reader.pushed() == ["fresh"]
    assert metrics.counts["push.skipped"] == 1
    assert [r.fields["notifications"] for r in records.records if r.getMessage() == "push.skipped_stale"] == [1]


def insert_mention(database: Path, reader: Subscriber, text: str) -> None:
    """A mention written by someone else while this server is down (another instance of a cluster)."""
    with sqlite3.connect(database) as db:
        db.execute("INSERT INTO notification (id, user_id, kind, room_id, actor_id, snippet, created_at) "
                   "VALUES (?, ?, 'mention', ?, NULL, ?, ?)",
                   (new_id(), reader.login["user"]["id"], reader.room,
                    f"@{reader.login['user']['username']} {text}", str(utcnow())))


def cursor_at(database: Path) -> str | None:
    """The id of the last notification the push job handled."""
    with sqlite3.connect(database) as db:
        row = db.execute("SELECT after_id FROM job_cursor WHERE name = ?", (CURSOR,)).fetchone()
    return row and row[0]


def test_a_server_killed_and_restarted_pushes_what_was_mentioned_while_it_was_down(tmp_path: Path,
                                                                                    service: PushService) -> None:
    data, database = tmp_path / "server", tmp_path / "server" / "confab.db"
    first = ServerProcess(data, env=ALLOWED)
    try:
        first.wait_ready()
        reader = Subscriber(first, service, "/progress/restart")
        reader.mention("before")
        wait_for(lambda: reader.pushed() == ["before"], timeout=10, interval=0.1)
        pushed_id = reader.notifications()[0]["id"]
        wait_for(lambda: cursor_at(database) == pushed_id, timeout=5, interval=0.1)  # not pushed again
    finally:
        first.stop()  # SIGKILL
    insert_mention(database, reader, "while down")
    second = ServerProcess(data, env=ALLOWED)
    try:
        second.wait_ready()
        wait_for(lambda: "while down" in reader.pushed(), timeout=10, interval=0.1)
        time.sleep(SETTLE.total_seconds() + 1)  # runs enough to push anything twice, if it would
        assert reader.pushed() == ["before", "while down"]
    finally:
        second.stop()
