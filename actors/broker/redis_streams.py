"""The scale-out broker: the same ``domain.broker.Broker`` on Redis Streams.

One stream per topic partition (``<prefix>:stream:<topic>:<n>``); a consumer group per subscriber
group; XACK after the handler returns. Delivery, leases and the handoff of partitions between
instances are ``actors.broker.redis_partition`` and ``actors.broker.fair_share``; groups of one
instance (``each_instance``) are ``actors.broker.instance_groups``.

A shared group is processed once across the cluster, its partitions spread over the instances that
consume it; a per-instance group sees every record published after it subscribed. Streams are trimmed
to ``redis_stream_maxlen`` (approximate) and by age. Backpressure: a publish waits while the slowest
group of the partition (of a live instance) lags ``queue_size`` entries behind, then fails with
UNAVAILABLE.
"""
from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import pykka
import redis

from actors import runtime
from actors.broker.fair_share import FREE_GRACE_S, FairShare
from actors.broker.instance_groups import Reaper, Registry, instance_group, lag_of, owner_of, plain_group
from actors.broker.redis_partition import HAND_OVER_S, HandOver, RedisPartitionActor, to_offset
from actors.supervisor import ChildSpec, StopChildren, start_child
from domain import logs
from domain.broker import Handler, partition_for
from domain.config import AppConfig
from domain.errors import Unavailable
from domain.metrics import Metrics
from storage.redis_lease import Lease

log = logging.getLogger("confab.broker")

#: a dead holder's partitions are free this long after its last renewal (renewed every third of it)
LEASE_MS = 1500

__all__ = ["BrokerUnavailable", "RedisBroker", "to_offset"]


class BrokerUnavailable(ConnectionError):
    """Redis cannot be reached at start-up; the message is one line for the operator."""


class RedisBroker:
    """Implements ``domain.broker.Broker`` on Redis Streams (see the module docstring)."""

    def __init__(self, supervisor: pykka.ActorRef, config: AppConfig, metrics: Metrics,
                 prefix: str | None = None, client: redis.Redis | None = None) -> None:
        self.supervisor, self.config, self.metrics = supervisor, config, metrics
        self.prefix = config.broker.redis_prefix if prefix is None else prefix
        self.client = client or redis.Redis.from_url(config.broker.redis_url, socket_timeout=5,
                                                     socket_connect_timeout=3, health_check_interval=30)
        self.instance_id = f"instance-{uuid.uuid4().hex[:12]}"  # also its consumer name in every group
        self.registry = Registry(self.client, self.prefix, self.instance_id)
        self.shares = FairShare(self.client, self.prefix, self.instance_id)
        self.reaper = Reaper(self.client, self.registry, self._streams)
        self._topics: dict[str, int] = {}
        self._handlers: dict[tuple[str, str], Handler] = {}
        self._own: set[tuple[str, str]] = set()  # (topic, group) of this instance alone
        self._actors: dict[tuple[str, int], Any] = {}
        self._lag_hints: dict[tuple[str, int], list[int]] = {}  # [lag at last measure, publishes since]
        self._closed = False
        try:
            self.client.ping()
        except redis.RedisError as exc:
            raise BrokerUnavailable(f"broker: cannot reach Redis at {logs.redact_urls(config.broker.redis_url)}: "
                                    f"{exc}") from None

    # -- naming and groups -----------------------------------------------------------------------
    def stream_key(self, topic: str, index: int) -> str:
        return f"{self.prefix}:stream:{topic}:{index}"

    def _streams(self, topic: str | None = None) -> list[str]:
        """The streams of ``topic``, or of every topic."""
        return [self.stream_key(name, index) for name, partitions in list(self._topics.items())
                if topic is None or name == topic for index in range(partitions)]

    def lease(self, key: str) -> Lease:
        return Lease(self.client, key, self.instance_id, LEASE_MS, handoff_ms=int(FREE_GRACE_S * 1000))

    def partitions_of(self, topic: str) -> int:
        return self._topics[topic]

    def is_own_group(self, group: str) -> bool:
        return owner_of(group) == self.instance_id

    def ensure_group(self, stream: str, group: str, resume_after: bytes | None = None) -> None:
        """Create ``group`` unless it exists: a shared group at the stream's start; this instance's own at
        the stream's end when it first subscribes. An own group that vanished (Redis restarted empty, or
        the reaper took this instance for dead) is created again after ``resume_after``, the last entry
        it had passed, if the stream still holds that entry; else the stream is a new one (a restarted
        Redis) or was trimmed past it, and every entry in it came later: from the start. Nothing
        published while the group was missing is lost."""
        try:
            self.client.xgroup_create(stream, group, id=self._group_start(stream, group, resume_after), mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _group_start(self, stream: str, group: str, resume_after: bytes | None) -> bytes | str:
        if not self.is_own_group(group):
            return "0"
        if resume_after is None:
            return "$"
        return resume_after if self.client.xrange(stream, resume_after, resume_after, count=1) else "0"

    def group_position(self, stream: str, group: str) -> bytes:
        """The id of the last entry delivered to ``group`` (where it stands in the stream)."""
        for info in self.client.xinfo_groups(stream):
            if info["name"].decode() == group:
                return info["last-delivered-id"]
        raise redis.ResponseError(f"NOGROUP {group} on {stream}")

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
        try:
            self._wait_for_room(topic, index)
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
        """Entries each group has not yet read or acknowledged; a group of an instance missing from the
        registry does not count (it is dead: the reaper destroys the group)."""
        try:
            groups = self.client.xinfo_groups(self.stream_key(topic, index))
        except redis.ResponseError:  # no stream yet
            groups = []
        lags = {g["name"].decode(): lag_of(g) for g in groups}
        lags = {name: lag for name, lag in lags.items() if self.registry.counts(name)}
        self._lag_hints[(topic, index)] = [max(lags.values(), default=0), 0]
        return lags

    def lags_to_report(self, lags: dict[str, int]) -> dict[str, int]:
        """The lags this instance reports as metrics (``actors.broker.lag``): shared groups, and its own
        groups under their plain names; the other instances' groups are theirs to report."""
        return {plain_group(group): lag for group, lag in lags.items() if owner_of(group) in (None, self.instance_id)}

    def subscribe(self, topic: str, group: str, handler: Handler, *, each_instance: bool = False) -> None:
        if topic not in self._topics:
            raise ValueError(f"unknown topic {topic!r}")
        name = instance_group(group, self.instance_id) if each_instance else group
        if (topic, name) in self._handlers:
            raise ValueError(f"group {group!r} already subscribes to {topic!r} in this process")
        self._handlers[(topic, name)] = handler
        if each_instance:
            self._own.add((topic, name))
        for index in range(self._topics[topic]):
            self.ensure_group(self.stream_key(topic, index), name)
            self._actors[(topic, index)].tell(name)

    def groups_of(self, topic: str) -> list[str]:
        return [group for (name, group) in self._handlers if name == topic]

    def handler_of(self, topic: str, group: str) -> Handler:
        return self._handlers[(topic, group)]

    # -- upkeep (singleton jobs) and shutdown ------------------------------------------------------
    def trim_by_age(self) -> None:
        """Retention by age (a singleton job): drop entries older than ``retention_hours``."""
        hours = self.config.broker.retention_hours
        if not hours:
            return
        oldest_ms = int((time.time() - hours * 3600) * 1000)
        for stream in self._streams():
            self.client.xtrim(stream, minid=f"{oldest_ms}-0", approximate=True)

    def hand_over(self) -> None:
        """Graceful stop, first step: the shared groups' partitions go to the other instances (work in hand
        finished and acknowledged, leases freed, membership left), while this instance keeps reading its
        own groups (the replies to its callers, the fan-out to its sockets)."""
        for partition in list(self._actors.values()):
            try:
                partition.ask(HandOver(), timeout=HAND_OVER_S + 1)
            except pykka.ActorDeadError:
                pass
        try:
            self.shares.leave()
        except redis.RedisError as exc:
            logs.event(log, "broker.leave_failed", logging.WARNING, error=str(exc))

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop consuming (the record in hand finishes), release the leases, leave the shared groups'
        membership (the others take the partitions at once) and destroy this instance's own groups, so
        no publisher waits on an instance that is gone; Redis keeps the rest."""
        if self._closed:
            return
        self._closed = True
        try:
            self.supervisor.ask(StopChildren("broker"), timeout=timeout_s)
        except pykka.ActorDeadError:
            pass
        try:
            self.shares.leave()
            for topic, group in sorted(self._own):
                for stream in self._streams(topic):
                    self.client.xgroup_destroy(stream, group)
        except redis.RedisError as exc:  # the reaper destroys what is left once this instance is gone
            logs.event(log, "broker.leave_failed", logging.WARNING, error=str(exc))
        self.client.close()
