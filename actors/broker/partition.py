"""One topic partition: its bounded ring of records, its groups' cursors and its segment log.

The broker owns each ``Partition``; the partition's actor (``actors.broker.actor``) operates it.

Why ``append`` runs in the publisher's greenlet instead of behind an actor ask: an ask is a greenlet
round trip (about 26,000 asks/s measured on the 2-core dev machine, a quarter of the throughput aim).
Under gevent code that does not yield is never interleaved, so ``append`` is one critical section from
taking an offset to storing the record. Everything that waits is the actor's: delivery greenlets,
fsync, retention, offset saves and health.

Why the records live here, not in the actor: the supervisor restarts a crashed actor, and the records
it had not delivered (with the log off, their only copy) and the groups' cursors must survive that.
With the log on, the restarted actor reopens the log instead (a crash may have left a partial frame)
and rebuilds the ring from it; consumers only ever see synced records, so none of them vanishes.
"""
from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple

from actors import runtime
from domain import logs
from domain.broker import Handler, Record
from domain.config import BrokerConfig
from domain.errors import Unavailable
from storage.offsets import load_offsets, save_offsets
from storage.segment_log import SegmentLog

log = logging.getLogger("confab.broker")

SYNC_TIMEOUT_S = 30.0  # a publish waits this long for its fsync before UNAVAILABLE (the record may still land)


class Sync:
    """Tells the actor to fsync what is appended."""


SYNC = Sync()


class LogFailed(NamedTuple):
    """Tells the actor the log failed under a publisher: fail, so the restart reopens and repairs it."""
    error: str


class Group:
    """A consumer group's cursor on one partition: the next offset to deliver, i.e. its committed offset."""
    __slots__ = ("name", "handler", "cursor", "wake")

    def __init__(self, name: str, handler: Handler, cursor: int) -> None:
        self.name, self.handler, self.cursor = name, handler, cursor
        self.wake = threading.Event()


class _Batch:
    """Publishers waiting for one fsync."""
    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: str | None = None

    def fail(self, error: str) -> None:
        self.error = error
        self.done.set()


class Partition:
    def __init__(self, topic: str, index: int, config: BrokerConfig, log_dir: Path | None) -> None:
        self.topic, self.index = topic, index
        self.name = f"broker.{topic}.{index}"
        self.capacity = config.queue_size
        self.config = config
        self.log_dir = log_dir
        self.durable = log_dir is not None and config.fsync != "off"  # acks wait for an fsync
        self._sync_every = 1 if config.fsync == "always" else config.fsync_batch_records  # always: a batch of one
        self.log: SegmentLog | None = None
        self.saved: dict[str, int] = {}  # offsets read from the offsets file, for groups not subscribed yet
        self.groups: dict[str, Group] = {}
        self.mailbox: Callable[[Any], None] = lambda message: None  # the actor's tell, set by the broker
        self.ready = threading.Event()  # set while the actor is up and the records are recovered
        # Held from an actor's start to the end of its stop/failure: Pykka marks an actor dead *before*
        # its on_stop runs, so the supervisor may start the successor while the old one still closes
        # the log; the successor waits here instead of having its fresh log closed under it.
        self.tenancy = threading.Semaphore(1)
        self.failure: str | None = None  # why the last recovery failed
        self.closed = False
        self.published = self.consumed = 0  # since the actor last reported them
        self._ring: list[Record | None] = [None] * self.capacity
        self.head = 0  # the next offset to assign
        self.visible = 0  # records below it may be delivered: appended and, when durable, synced
        self.low = 0  # the oldest offset the ring may hold; older ones are read from the log
        self._floor = sys.maxsize  # the slowest group's cursor; may lag behind, recomputed before waiting
        self._idle: list[Group] = []  # groups parked until ``visible`` moves
        self._space = threading.Event()
        self._space_waiters = 0
        self._batch = _Batch()
        self._syncing: _Batch | None = None
        self._sync_from = 0  # the first offset no fsync has started to cover
        self._sync_started = 0.0
        self._sync_wanted = self._timer_armed = False

    # --- publishers ---------------------------------------------------------------------------------

    def append(self, key: str, value: bytes) -> int:
        """Store one record and return its offset once it is appended (and synced, when durable)."""
        if self.closed or not self.ready.is_set() or self.head - self._floor >= self.capacity:
            self._wait_until_writable(time.monotonic() + self.config.publish_timeout_s)
        offset = self.head
        timestamp = time.time_ns() // 1_000_000
        if self.log is not None:
            try:
                self.log.append(offset, timestamp, key.encode(), value)
                if not self.durable:
                    self.log.flush()
            except OSError as exc:
                self._fail_log(exc)
        self._ring[offset % self.capacity] = Record(self.topic, self.index, offset, key, value, timestamp)
        self.head = offset + 1
        if self.head - self.low > self.capacity:
            self.low = self.head - self.capacity
        self.published += 1
        if self.durable:
            self._await_sync(offset)
        else:
            self._expose(self.head)
        return offset

    def _wait_until_writable(self, deadline: float) -> None:
        while True:
            if self.closed:
                raise Unavailable("broker is closing", {"topic": self.topic, "partition": self.index})
            remaining = deadline - time.monotonic()
            if not self.ready.is_set():
                if remaining <= 0 or not self.ready.wait(remaining):
                    logs.event(log, "broker.publish_timeout", logging.WARNING, topic=self.topic,
                               partition=self.index, reason="partition is recovering")
                    raise Unavailable("partition is recovering", {"topic": self.topic, "partition": self.index})
                continue
            self._floor = min((g.cursor for g in self.groups.values()), default=sys.maxsize)
            if self.head - self._floor < self.capacity:
                return
            if remaining <= 0:
                slowest = min(self.groups.values(), key=lambda g: g.cursor)
                logs.event(log, "broker.publish_timeout", logging.WARNING, topic=self.topic, partition=self.index,
                           offset=self.head, group=slowest.name, lag=self.head - slowest.cursor)
                raise Unavailable("partition is full", {"topic": self.topic, "partition": self.index})
            self._space.clear()
            self._space_waiters += 1
            try:
                self._space.wait(remaining)
            finally:
                self._space_waiters -= 1

    def _await_sync(self, offset: int) -> None:
        batch = self._batch
        if self.head - self._sync_from >= self._sync_every:
            self.want_sync()
        elif not self._timer_armed:
            self._timer_armed = True
            runtime.call_later(self.config.fsync_batch_ms / 1000, self._on_batch_timer)
        batch.done.wait()  # no per-publish timeout object on the hot path: see ``fail_stalled_sync``
        if batch.error is not None:
            logs.event(log, "broker.publish_not_synced", logging.ERROR, topic=self.topic, partition=self.index,
                       offset=offset, error=batch.error)
            raise Unavailable("the log could not be synced", {"topic": self.topic, "partition": self.index})

    def _on_batch_timer(self) -> None:
        self._timer_armed = False
        self.want_sync()

    def want_sync(self) -> None:
        if self.durable and not self._sync_wanted and self.head > self._sync_from:
            self._sync_wanted = True
            self.mailbox(SYNC)

    def _fail_log(self, exc: OSError) -> None:
        self.ready.clear()
        logs.event(log, "broker.log_write_failed", logging.ERROR, topic=self.topic, partition=self.index,
                   offset=self.head, error=repr(exc))
        self.mailbox(LogFailed(repr(exc)))
        raise Unavailable("the log could not be written", {"topic": self.topic, "partition": self.index}) from exc

    def _expose(self, upto: int) -> None:
        self.visible = upto
        if self._idle:
            for group in self._idle:
                group.wake.set()
            self._idle.clear()

    # --- the actor: fsync ---------------------------------------------------------------------------

    def begin_sync(self) -> tuple[_Batch, int] | None:
        """Flush what is appended and hand back the batch an fsync will release, or None if all is synced."""
        self._sync_wanted = False
        if self.log is None or self.head == self._sync_from:
            return None
        self.log.flush()
        batch, self._batch = self._batch, _Batch()
        self._syncing, self._sync_from, self._sync_started = batch, self.head, time.monotonic()
        return batch, self.head

    def fail_stalled_sync(self) -> None:
        """Release publishers from an fsync stuck past ``SYNC_TIMEOUT_S`` (checked off the actor, which waits
        on it); their records may still become durable, so a retry may duplicate one (at-least-once)."""
        batch = self._syncing
        if batch is not None and not batch.done.is_set() and time.monotonic() - self._sync_started > SYNC_TIMEOUT_S:
            logs.event(log, "broker.fsync_stalled", logging.ERROR, topic=self.topic, partition=self.index,
                       offset=self._sync_from, seconds=SYNC_TIMEOUT_S)
            batch.fail(f"no fsync within {SYNC_TIMEOUT_S}s")

    def end_sync(self, batch: _Batch, upto: int) -> None:
        self._syncing = None
        self._expose(upto)
        batch.done.set()

    def sync_due(self) -> bool:
        return self.head - self._sync_from >= self._sync_every

    # --- the actor: delivery ------------------------------------------------------------------------

    def add_group(self, name: str, handler: Handler) -> Group:
        """A group resumes at its saved offset; a new one starts at the oldest record the ring holds."""
        group = Group(name, handler, min(self.saved.get(name, self.low), self.head))
        self.groups[name] = group
        self._floor = min(self._floor, group.cursor)
        return group

    def read(self, offset: int, limit: int) -> tuple[list[Record], int]:
        """Deliverable records from ``offset`` on, and the offset to read from next (past any gap)."""
        if offset < self.low:
            return self._read_log(offset, min(limit, self.low - offset, self.visible - offset))
        end = min(self.visible, offset + limit)
        start, stop = offset % self.capacity, end % self.capacity
        ring = self._ring
        records = ring[start:stop] if start < stop or end == offset else ring[start:] + ring[:stop]
        if None in records:  # offsets skipped as corrupt by recovery
            records = [r for r in records if r is not None]
        return records, end  # type: ignore[return-value]

    def _read_log(self, offset: int, limit: int) -> tuple[list[Record], int]:
        entries = self.log.read(offset, limit) if self.log is not None else []
        records = [Record(self.topic, self.index, e.offset, e.key.decode(), e.value, e.timestamp_ms)
                   for e in entries if e.offset < self.low]
        first = records[0].offset if records else self.low
        if first > offset:
            logs.event(log, "broker.records_unavailable", logging.WARNING, topic=self.topic, partition=self.index,
                       offset=offset, skipped_to=first, reason="deleted by retention, corrupt or never logged")
        return records, records[-1].offset + 1 if records else self.low

    def park(self, group: Group) -> None:
        """Wait (in the group's delivery greenlet) until records past its cursor become deliverable."""
        while group.cursor >= self.visible:
            group.wake.clear()
            self._idle.append(group)
            group.wake.wait()

    def committed(self) -> None:
        """A group moved its cursor: publishers waiting for room may go on."""
        if self._space_waiters:
            self._space.set()

    def lags(self) -> dict[str, int]:
        return {g.name: self.head - g.cursor for g in self.groups.values()}

    def drained(self) -> bool:
        return self.visible == self.head and all(g.cursor >= self.head for g in self.groups.values())

    # --- the actor: lifecycle -----------------------------------------------------------------------

    def recover(self) -> None:
        """(Re)open the log and rebuild the ring from it; with the log off, the ring is intact."""
        if self.log_dir is not None:
            with logs.bound(topic=self.topic, partition=self.index):
                self.log, found = SegmentLog.open(self.log_dir, self.config.segment_bytes, keep=self.capacity)
            self.saved = load_offsets(self.log_dir / "offsets.json")
            self._ring = [None] * self.capacity
            for e in found.tail:
                self._ring[e.offset % self.capacity] = Record(self.topic, self.index, e.offset, e.key.decode(),
                                                              e.value, e.timestamp_ms)
            self.head = self.visible = self._sync_from = found.next_offset
            self.low = found.tail_from
            for group in self.groups.values():
                if group.cursor > self.head:
                    logs.event(log, "broker.cursor_past_log", logging.WARNING, topic=self.topic, partition=self.index,
                               group=group.name, offset=group.cursor, head=self.head)
                    group.cursor = self.head
            logs.event(log, "broker.partition_recovered", topic=self.topic, partition=self.index, head=self.head,
                       segments=found.segments, skipped=len(found.skipped), truncated=found.truncated is not None)
        self._floor = min((g.cursor for g in self.groups.values()), default=sys.maxsize)
        self._batch, self._syncing = _Batch(), None
        self._sync_wanted = self._timer_armed = False
        self.failure = None
        self.ready.set()

    def stop_publishing(self) -> None:
        """Graceful close: new publishes fail, waiting ones give up, appended ones get synced."""
        self.closed = True
        self._space.set()
        self.want_sync()

    def suspend(self, error: str) -> None:
        """The actor failed: hold publishers back and fail those awaiting an fsync that will not come."""
        self.ready.clear()
        for batch in (self._batch, self._syncing):
            if batch is not None and not batch.done.is_set():
                batch.fail(error)
        if self.log is not None:
            self.log.close()
            self.log = None

    def shutdown(self) -> None:
        """The actor stops: sync the log, save the offsets and close the files."""
        self.ready.clear()
        if self.log is None:
            return
        try:
            while (started := self.begin_sync()) is not None:  # whatever the fsync policy
                runtime.run_blocking(self.log.sync)
                self.end_sync(*started)
            self.save_offsets()
        finally:
            self.log.close()
            self.log = None

    def save_offsets(self) -> None:
        if self.log_dir is not None:
            offsets = {**self.saved, **{g.name: g.cursor for g in self.groups.values()}}
            if offsets != self.saved:
                runtime.run_blocking(save_offsets, self.log_dir / "offsets.json", offsets, self.config.fsync != "off")
                self.saved = offsets

    def retain(self) -> None:
        if self.log is not None:
            keep_from = min((g.cursor for g in self.groups.values()), default=self.head)
            deleted = self.log.retain(self.config.retention_bytes, self.config.retention_hours * 3600,
                                      time.time(), keep_from)
            if deleted:
                logs.event(log, "broker.segments_deleted", topic=self.topic, partition=self.index, files=deleted)
