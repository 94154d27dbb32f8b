"""One Redis stream's consumer side: a delivery greenlet per subscribed group, under the group's lease.

Per-partition order within a group needs one reader at a time, so each (shared group, topic, partition)
is held under a lease (``SET NX PX``, renewed while alive). Which instance takes a free lease, and when
a holder gives one up, is ``actors.broker.fair_share``. A new holder first reclaims every pending entry
of the group with XAUTOCLAIM, whatever a previous holder (released, or dead) read and did not
acknowledge, then reads new entries. A holder stops at a record boundary when its lease is lost or it
holds more than its share, and then marks the lease released for an instance under its share; a dead
holder's lease simply expires (``LEASE_MS`` after its last renewal) and is taken at once by whichever
instance looks first (every ``WAIT_POLL_S``): failover in under 2 s. A group of this instance alone
(``each_instance``) needs no lease.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Protocol

import gevent
import redis

from actors import runtime
from actors.broker.fair_share import FairShare
from actors.broker.lag import report_lags
from actors.component import HealthSink, PeriodicActor
from domain import logs
from domain.broker import Completion, Handler, Record
from domain.metrics import Metrics
from storage.redis_lease import RELEASED, Lease

log = logging.getLogger("confab.broker")

BLOCK_MS = 500
READ_BATCH = 256
WAIT_POLL_S = 0.2  # how often a partition not held here looks at its lease
RETRY_FIRST_S, RETRY_MAX_S = 0.05, 5.0
TICK_S = 1.0
_SEQ_BITS = 20
LEASE_LOST, SURPLUS, HANDED_OVER = "lease_lost", "surplus", "handed_over"
HAND_OVER_S = 5.0  # how long a graceful stop waits for the shared groups' work in hand
COMPLETION_POLL_S = 0.25  # while waiting for a handler's work, the lease is renewed this often
_LOST = object()  # a handler's retries ended by the loss of the lease


class HandOver:
    """Graceful stop, first step: stop consuming the shared groups at a record boundary, once the work in
    hand is complete and acknowledged, and free their leases for the other instances at once."""


def to_offset(entry_id: bytes | str) -> int:
    """Stream ids (``ms-seq``) as the integer offsets of ``Record``; order is preserved."""
    ms, seq = (entry_id.decode() if isinstance(entry_id, bytes) else entry_id).split("-")
    return (int(ms) << _SEQ_BITS) | int(seq)


class _OwnGroup:
    """The lease of a group no other instance reads: always held."""

    def keep(self) -> bool:
        return True

    def release(self) -> None:
        pass


class StreamOwner(Protocol):
    """What a partition needs of the broker that started it (``RedisBroker``): its Redis, the names and
    handlers of its groups, their leases and fair shares, and the lag it measures."""
    client: redis.Redis
    prefix: str
    instance_id: str
    metrics: Metrics
    shares: FairShare

    def stream_key(self, topic: str, index: int) -> str: ...
    def partitions_of(self, topic: str) -> int: ...
    def groups_of(self, topic: str) -> list[str]: ...
    def handler_of(self, topic: str, group: str) -> Handler: ...
    def is_own_group(self, group: str) -> bool: ...
    def lease(self, key: str) -> Lease: ...
    def ensure_group(self, stream: str, group: str, resume_after: bytes | None = None) -> None: ...
    def group_position(self, stream: str, group: str) -> bytes: ...
    def measure_lag(self, topic: str, index: int) -> dict[str, int]: ...
    def lags_to_report(self, lags: dict[str, int]) -> dict[str, int]: ...


class RedisPartitionActor(PeriodicActor):
    """Owns the delivery greenlets of one stream: one per subscribed group."""

    def __init__(self, broker: StreamOwner, topic: str, index: int, health_sink: HealthSink | None) -> None:
        super().__init__(f"broker.{topic}.{index}", health_sink, TICK_S)
        self.broker, self.topic, self.index = broker, topic, index
        self.stream = broker.stream_key(topic, index)
        self._deliveries: dict[str, Any] = {}
        self._leases: dict[str, Lease | _OwnGroup] = {}
        self._position: dict[str, bytes] = {}  # own group → the last entry id it passed (where to resume)
        self._handing_over = False

    def on_start(self) -> None:
        for group in self.broker.groups_of(self.topic):
            self.start_group(group)
        super().on_start()

    def on_stop(self) -> None:
        super().on_stop()
        for greenlet in self._deliveries.values():
            greenlet.kill(block=True, timeout=2.0)
        for group, lease in self._leases.items():
            lease.release()
            self.broker.shares.drop(self.topic, group, self.index)

    def handle(self, message: Any) -> Any:
        if isinstance(message, str):
            self.start_group(message)
        elif isinstance(message, HandOver):
            self._handing_over = True
            shared = [g for group, g in self._deliveries.items() if not self.broker.is_own_group(group)]
            gevent.joinall(shared, timeout=HAND_OVER_S)

    def start_group(self, group: str) -> None:
        if group not in self._deliveries or self._deliveries[group].dead:
            self._deliveries[group] = runtime.spawn(self._deliver, group)

    def tick(self) -> None:
        try:
            lags = self.broker.measure_lag(self.topic, self.index)
            report_lags(self.broker.metrics, self.topic, self.index, self.broker.lags_to_report(lags))
            held = sorted(group for group, lease in self._leases.items()
                          if isinstance(lease, Lease) and self.broker.shares.holds(self.topic, group, self.index))
            self.report_health("ok", True, backend="redis", lag=lags, held=held)
        except redis.RedisError as exc:
            self.report_health("down", False, backend="redis", error=str(exc))

    # -- delivery ------------------------------------------------------------------------------------
    def _deliver(self, group: str) -> None:
        """Hold the partition (shared groups: when it is this instance's to hold), then consume it."""
        handler, shared = self.broker.handler_of(self.topic, group), not self.broker.is_own_group(group)
        lease = self.broker.lease(self._lease_key(group)) if shared else _OwnGroup()
        self._leases[group] = lease
        with logs.bound(topic=self.topic, partition=self.index, group=group):
            while not (shared and self._handing_over):
                try:
                    if isinstance(lease, Lease) and not self._take(group, lease):
                        return
                    self.broker.ensure_group(self.stream, group, self._position.get(group))
                    if not shared and group not in self._position:
                        self._position[group] = self.broker.group_position(self.stream, group)
                    self._consume(group, handler, lease, shared)
                except redis.RedisError as exc:
                    self._wait_for_redis(exc)

    def _wait_for_redis(self, error: redis.RedisError) -> None:
        """After a failed call: one line, then a ping a second until Redis answers, then one line."""
        started = time.monotonic()
        logs.event(log, "broker.redis_error", logging.WARNING, error=str(error))
        while True:
            runtime.sleep(1.0)
            try:
                self.broker.client.ping()
                break
            except redis.RedisError:
                continue
        if time.monotonic() - started > 1.5:
            logs.event(log, "broker.redis_recovered", logging.INFO, down_s=round(time.monotonic() - started, 1))

    def _lease_key(self, group: str) -> str:
        return f"{self.broker.prefix}:lease:{group}:{self.topic}:{self.index}"

    def _take(self, group: str, lease: Lease) -> bool:
        """True once this instance holds the lease: handed over (marked released) and this instance under
        its share; expired (its holder died, or there was none) or still ours, whatever the share. The
        released mark lasts ``FREE_GRACE_S``, so a handed-over lease nobody wanted is free for all.
        False when this instance is handing its partitions over."""
        shares, partitions = self.broker.shares, self.broker.partitions_of(self.topic)
        shares.drop(self.topic, group, self.index)
        while True:
            if self._handing_over:
                return False
            shares.share(self.topic, group, partitions)  # renews this instance's membership even when all is held
            holder = self.broker.client.get(lease.key)
            if holder is None or holder in (RELEASED, lease.holder.encode()):
                anyway = holder != RELEASED
                if shares.reserve(self.topic, group, partitions, self.index, anyway):
                    if lease.acquire():
                        return True
                    shares.drop(self.topic, group, self.index)
            runtime.sleep(WAIT_POLL_S)

    def _consume(self, group: str, handler: Handler, lease: Lease | _OwnGroup, shared: bool) -> None:
        """Reclaim the group's pending entries, then read new ones, until ``stop`` says otherwise."""
        client, consumer = self.broker.client, self.broker.instance_id
        partitions = self.broker.partitions_of(self.topic)

        def stop() -> str | None:
            if not lease.keep():  # first: renewed while a hand-over waits for the work in hand
                return LEASE_LOST
            if shared and self._handing_over:
                return HANDED_OVER
            if shared and self.broker.shares.surplus(self.topic, group, partitions, self.index):
                return SURPLUS
            return None

        start: bytes | str = "0-0"
        reclaimed, reason = 0, None
        while reason is None:  # first everything pending in the group, whoever read it
            start, claimed, _deleted = client.xautoclaim(self.stream, group, consumer, 0, start_id=start,
                                                         count=READ_BATCH)
            reclaimed += len(claimed)
            reason = self._handle_all(group, handler, claimed, stop)
            if start in (b"0-0", "0-0"):
                break
        if shared:
            logs.event(log, "broker.partition_taken", logging.INFO, reclaimed=reclaimed)
        while reason is None and (reason := stop()) is None:
            read = client.xreadgroup(group, consumer, {self.stream: ">"}, count=READ_BATCH, block=BLOCK_MS)
            for _stream, entries in read or ():
                reason = self._handle_all(group, handler, entries, stop)
        self.broker.shares.drop(self.topic, group, self.index)
        if reason in (SURPLUS, HANDED_OVER):
            lease.release(to_anyone=reason == HANDED_OVER)
            logs.event(log, "broker.partition_released", logging.INFO,
                       reason="over its share" if reason == SURPLUS else "stopping")
        else:
            logs.event(log, "broker.lease_lost", logging.WARNING)

    def _handle_all(self, group: str, handler: Handler, entries: list, stop: Callable[[], str | None]) -> str | None:
        """Handle ``entries`` in order, acknowledging each once handled; from the first whose handler
        returned a ``Completion`` on, at the end of the batch once that work is complete. The reason to
        stop early, at a record boundary."""
        deferred: list[bytes] = []
        unfinished: list[Completion] = []
        reason = None
        for entry_id, fields in entries:
            reason = stop()
            if reason is not None:
                break
            record = Record(self.topic, self.index, to_offset(entry_id), fields[b"k"].decode(), fields[b"v"],
                            int(entry_id.split(b"-")[0]))
            outcome = self._run_handler(handler, record, stop)
            if outcome is _LOST:
                reason = LEASE_LOST  # another instance took the partition: the record is theirs now
                break
            if isinstance(outcome, Completion):
                unfinished.append(outcome)
            if unfinished:
                deferred.append(entry_id)
            else:
                self._acknowledge(group, [entry_id])
        if not self._finished(unfinished, stop):
            return LEASE_LOST  # left pending: the next holder handles them again
        self._acknowledge(group, deferred)
        return reason

    def _acknowledge(self, group: str, entry_ids: list[bytes]) -> None:
        if entry_ids:
            self.broker.client.xack(self.stream, group, *entry_ids)
            if group in self._position:
                self._position[group] = entry_ids[-1]
            self.broker.metrics.incr("broker.consumed", len(entry_ids))

    @staticmethod
    def _finished(unfinished: list[Completion], stop: Callable[[], str | None]) -> bool:
        """Wait for the work the handler left running, keeping the lease; False if it is lost meanwhile."""
        for completion in unfinished:
            while not completion.wait(COMPLETION_POLL_S):
                if stop() == LEASE_LOST:
                    return False
        return True

    def _run_handler(self, handler: Handler, record: Record, stop: Callable[[], str | None]) -> object:
        """Call ``handler`` until it succeeds (what it returned), or the lease is lost while retrying (``_LOST``)."""
        delay, attempt = RETRY_FIRST_S, 1
        while True:
            try:
                with logs.bound(offset=record.offset):
                    return handler(record)
            except Exception as exc:  # noqa: BLE001 — retried, never skipped (at-least-once)
                logs.event(log, "broker.handler_failed", logging.ERROR, exc_info=exc, offset=record.offset,
                           attempt=attempt)
                runtime.sleep(delay)
                if stop() == LEASE_LOST:
                    return _LOST
                delay, attempt = min(delay * 2, RETRY_MAX_S), attempt + 1
