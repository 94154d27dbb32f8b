"""The scale-out broker: the same ``domain.broker.Broker`` on Redis Streams.

One stream per topic partition (``<prefix>:stream:<topic>:<n>``); a consumer group per subscriber
group; XACK after the handler returns. Per-partition order within a group needs one consumer at a
time, so each (group, topic, partition) is held under a lease (``SET NX PX``, renewed while alive):
the holder first reclaims every pending entry of the group with XAUTOCLAIM — whatever a dead
instance had read but not acknowledged — and then reads new entries. When an instance dies its
lease expires and another instance takes the partition over within ``LEASE_MS``.

Events every instance must see use a group per instance (the caller names it); commands use one
shared group and are processed once. Streams are trimmed to ``retention_records`` (approximate).
Backpressure: a publish waits while the slowest group of the partition lags ``queue_size`` entries
behind, then fails with UNAVAILABLE.
"""
from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import pykka
import redis

from actors import runtime
from actors.component import ComponentActor, HealthSink
from actors.supervisor import ChildSpec, StopChildren, start_child
from domain import logs
from domain.broker import Handler, Record, partition_for
from domain.config import AppConfig
from domain.errors import Unavailable
from domain.metrics import Metrics
from storage.redis_lease import Lease

log = logging.getLogger("confab.broker")

LEASE_MS = 3000
BLOCK_MS = 500
READ_BATCH = 256
RETRY_FIRST_S, RETRY_MAX_S = 0.05, 5.0
TICK_S = 1.0
_SEQ_BITS = 20


class BrokerUnavailable(ConnectionError):
    """Redis cannot be reached at start-up; the message is one line for the operator."""


def to_offset(entry_id: bytes | str) -> int:
    """Stream ids (``ms-seq``) as the integer offsets of ``Record``; order is preserved."""
    ms, seq = (entry_id.decode() if isinstance(entry_id, bytes) else entry_id).split("-")
    return (int(ms) << _SEQ_BITS) | int(seq)


class _Tick:
    pass


class RedisPartitionActor(ComponentActor):
    """Owns the delivery greenlets of one stream: one per subscribed group, each under its lease."""

    def __init__(self, broker: "RedisBroker", topic: str, index: int, health_sink: HealthSink | None) -> None:
        super().__init__(f"broker.{topic}.{index}", health_sink)
        self.broker, self.topic, self.index = broker, topic, index
        self.stream = broker.stream_key(topic, index)
        self._deliveries: dict[str, Any] = {}
        self._leases: dict[str, Lease] = {}
        self._timer: runtime.Timer | None = None

    def on_start(self) -> None:
        for group in self.broker.groups_of(self.topic):
            self.start_group(group)
        self._tick()

    def on_stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for greenlet in self._deliveries.values():
            greenlet.kill(block=True, timeout=2.0)
        for lease in self._leases.values():
            lease.release()

    def handle(self, message: Any) -> Any:
        if isinstance(message, str):
            self.start_group(message)
        elif isinstance(message, _Tick):
            self._tick()

    def start_group(self, group: str) -> None:
        if group not in self._deliveries or self._deliveries[group].dead:
            self._deliveries[group] = runtime.spawn(self._deliver, group)

    def _lease_key(self, group: str) -> str:
        return f"{self.broker.prefix}:lease:{group}:{self.topic}:{self.index}"

    def _tick(self) -> None:
        try:
            lags = self.broker.measure_lag(self.topic, self.index)
            for group, lag in lags.items():
                self.broker.metrics.gauge(f"broker.lag.{self.topic}.{self.index}.{group}", lag)
            self.report_health("ok", True, backend="redis", lag=lags)
        except redis.RedisError as exc:
            self.report_health("down", False, backend="redis", error=str(exc))
        self._timer = runtime.call_later(TICK_S, self.actor_ref.tell, _Tick())

    def _deliver(self, group: str) -> None:
        """Hold the lease, reclaim what a previous owner left pending, then read new entries."""
        client, handler = self.broker.client, self.broker.handler_of(self.topic, group)
        lease = self._leases[group] = self.broker.lease(self._lease_key(group))
        with logs.bound(topic=self.topic, partition=self.index, group=group):
            while True:
                try:
                    if not lease.acquire():
                        runtime.sleep(LEASE_MS / 3000)
                        continue
                    self.broker.ensure_group(self.stream, group)
                    start: bytes | str = "0-0"
                    while True:  # first everything pending in the group, whoever read it
                        start, claimed, _deleted = client.xautoclaim(self.stream, group, self.broker.consumer, 0,
                                                                     start_id=start, count=READ_BATCH)
                        self._handle_all(group, handler, claimed, lease)
                        if start in (b"0-0", "0-0"):
                            break
                    while lease.keep():
                        read = client.xreadgroup(group, self.broker.consumer, {self.stream: ">"},
                                                 count=READ_BATCH, block=BLOCK_MS)
                        for _stream, entries in read or ():
                            self._handle_all(group, handler, entries, lease)
                    logs.event(log, "broker.lease_lost", logging.WARNING)
                except redis.RedisError as exc:
                    logs.event(log, "broker.redis_error", logging.WARNING, error=str(exc))
                    runtime.sleep(1.0)

    def _handle_all(self, group: str, handler: Handler, entries: list, lease: Lease) -> None:
        for entry_id, fields in entries:
            record = Record(self.topic, self.index, to_offset(entry_id), fields[b"k"].decode(), fields[b"v"],
                            int(entry_id.split(b"-")[0]))
            self._run_handler(handler, record, lease)
            self.broker.client.xack(self.stream, group, entry_id)
            self.broker.metrics.incr("broker.consumed")
            lease.keep()

    def _run_handler(self, handler: Handler, record: Record, lease: Lease) -> None:
        delay, attempt = RETRY_FIRST_S, 1
        while True:
            try:
                with logs.bound(offset=record.offset):
                    handler(record)
                return
            except Exception as exc:  # noqa: BLE001 — retried, never skipped (at-least-once)
                logs.event(log, "broker.handler_failed", logging.ERROR, exc_info=exc, offset=record.offset,
                           attempt=attempt)
                runtime.sleep(delay)
                lease.keep()
                delay, attempt = min(delay * 2, RETRY_MAX_S), attempt + 1


class RedisBroker:
    """Implements ``domain.broker.Broker`` on Redis Streams (see the module docstring)."""

    def __init__(self, supervisor: pykka.ActorRef, config: AppConfig, metrics: Metrics,
                 prefix: str | None = None, client: redis.Redis | None = None) -> None:
        self.supervisor, self.config, self.metrics = supervisor, config, metrics
        self.prefix = config.broker.redis_prefix if prefix is None else prefix
        self.client = client or redis.Redis.from_url(config.broker.redis_url, socket_timeout=5,
                                                     socket_connect_timeout=3, health_check_interval=30)
        self.consumer = f"instance-{uuid.uuid4().hex[:12]}"
        self._topics: dict[str, int] = {}
        self._handlers: dict[tuple[str, str], Handler] = {}
        self._actors: dict[tuple[str, int], Any] = {}
        self._lag_hints: dict[tuple[str, int], list[int]] = {}  # [lag at last measure, publishes since]
        self._closed = False
        try:
            self.client.ping()
        except redis.RedisError as exc:
            raise BrokerUnavailable(f"broker: cannot reach Redis at {config.broker.redis_url}: {exc}") from None

    # -- naming and groups -----------------------------------------------------------------------
    def stream_key(self, topic: str, index: int) -> str:
        return f"{self.prefix}:stream:{topic}:{index}"

    def lease(self, key: str) -> Lease:
        return Lease(self.client, key, self.consumer, LEASE_MS)

    def ensure_group(self, stream: str, group: str) -> None:
        try:
            self.client.xgroup_create(stream, group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    # -- the Broker protocol ----------------------------------------------------------------------
    def create_topic(self, name: str, partitions: int) -> None:
        known = self.client.hget(f"{self.prefix}:topics", name)
        if known is not None and int(known) != partitions:
            raise ValueError(f"topic {name!r} exists with {int(known)} partitions, not {partitions}")
        self.client.hsetnx(f"{self.prefix}:topics", name, partitions)
        if name in self._topics:
            return
        self._topics[name] = partitions
        for index in range(partitions):
            spec = ChildSpec(f"broker.{name}.{index}", "broker",
                             lambda sink, i=index: RedisPartitionActor.start(self, name, i, sink))
            self._actors[(name, index)] = start_child(self.supervisor, spec)

    def publish(self, topic: str, key: str, event: bytes) -> tuple[int, int]:
        if self._closed:
            raise Unavailable("broker is closing")
        partitions = self._topics.get(topic)
        if partitions is None:
            raise ValueError(f"unknown topic {topic!r}")
        index = partition_for(key, partitions)
        self._wait_for_room(topic, index)
        try:
            entry_id = self.client.xadd(self.stream_key(topic, index), {"k": key, "v": event},
                                        maxlen=self.config.broker.redis_stream_maxlen, approximate=True)
        except redis.RedisError as exc:
            raise Unavailable(f"broker: Redis refused the publish: {exc}") from None
        self.metrics.incr("broker.published")
        return index, to_offset(entry_id)

    def _wait_for_room(self, topic: str, index: int) -> None:
        """Cheap in the common case: the lag measured at the last tick plus what was published since
        bounds the lag now; Redis is asked only when that bound reaches ``queue_size``."""
        limit = self.config.broker.queue_size
        hint = self._lag_hints.setdefault((topic, index), [0, 0])
        if hint[0] + hint[1] < limit:
            hint[1] += 1
            return
        deadline = time.monotonic() + self.config.broker.publish_timeout_s
        while max(self.measure_lag(topic, index).values(), default=0) >= limit:
            if time.monotonic() >= deadline:
                raise Unavailable("a consumer group of this partition is too far behind",
                                  {"topic": topic, "partition": index})
            runtime.sleep(0.05)
        hint[1] += 1

    def measure_lag(self, topic: str, index: int) -> dict[str, int]:
        """Entries each group has not yet read or acknowledged (Redis 7's ``lag`` + ``pending``)."""
        try:
            groups = self.client.xinfo_groups(self.stream_key(topic, index))
        except redis.ResponseError:  # no stream yet
            groups = []
        lags = {g["name"].decode(): int(g.get("lag") or 0) + int(g.get("pending") or 0) for g in groups}
        self._lag_hints[(topic, index)] = [max(lags.values(), default=0), 0]
        return lags

    def subscribe(self, topic: str, group: str, handler: Handler) -> None:
        if topic not in self._topics:
            raise ValueError(f"unknown topic {topic!r}")
        if (topic, group) in self._handlers:
            raise ValueError(f"group {group!r} already subscribes to {topic!r} in this process")
        self._handlers[(topic, group)] = handler
        for index in range(self._topics[topic]):
            self.ensure_group(self.stream_key(topic, index), group)
            self._actors[(topic, index)].tell(group)

    def groups_of(self, topic: str) -> list[str]:
        return [group for (name, group) in self._handlers if name == topic]

    def handler_of(self, topic: str, group: str) -> Handler:
        return self._handlers[(topic, group)]

    def trim_by_age(self) -> None:
        """Retention by age (a singleton job): drop entries older than ``retention_hours``."""
        hours = self.config.broker.retention_hours
        if not hours:
            return
        oldest_ms = int((time.time() - hours * 3600) * 1000)
        for name, partitions in list(self._topics.items()):  # topics may still be being created
            for index in range(partitions):
                self.client.xtrim(self.stream_key(name, index), minid=f"{oldest_ms}-0", approximate=True)

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop consuming (the record in hand finishes) and release the leases; Redis keeps the rest."""
        if self._closed:
            return
        self._closed = True
        try:
            self.supervisor.ask(StopChildren("broker"), timeout=timeout_s)
        except pykka.ActorDeadError:
            pass
        self.client.close()
