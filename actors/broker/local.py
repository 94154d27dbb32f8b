"""The in-process broker: topics of partitions, each partition a supervised actor (``broker.<topic>.<n>``)."""
from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any, Callable

import pykka

from actors import runtime
from actors.broker.actor import PartitionActor, StartDelivery
from actors.broker.partition import Partition
from actors.component import tell_if_alive
from actors.supervisor import ChildHandle, ChildSpec, StopChildren, start_child
from domain import logs
from domain.broker import Handler, partition_for
from domain.config import AppConfig
from domain.errors import Unavailable
from domain.metrics import Metrics

log = logging.getLogger("confab.broker")

_TOPIC_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
START_TIMEOUT_S = 60.0  # recovery scans at most one segment per partition


def _teller(handle: ChildHandle) -> Callable[[Any], None]:
    def tell(message: Any) -> None:
        tell_if_alive(handle, message)  # being restarted: its recovery fails or redoes whatever this asked
    return tell


class LocalBroker:
    """Implements ``domain.broker.Broker`` in this process. At shutdown call ``close`` before the supervisor
    stops the other components: it drains the queues into handlers that may still need them."""

    instance_id = "local"  # the only instance

    def __init__(self, supervisor: pykka.ActorRef, config: AppConfig, metrics: Metrics) -> None:
        self._supervisor = supervisor
        self._config = config
        self._metrics = metrics
        self._log_root: Path | None = config.broker_log_path if config.broker.log == "on" else None
        self._topics: dict[str, list[Partition]] = {}
        self._handles: dict[str, ChildHandle] = {}
        self._subscriptions: set[tuple[str, str]] = set()
        self._closed = False

    def create_topic(self, name: str, partitions: int) -> None:
        existing = self._topics.get(name)
        if existing is not None:
            if len(existing) != partitions:
                raise ValueError(f"topic {name!r} exists with {len(existing)} partitions, not {partitions}")
            return
        if not _TOPIC_NAME.fullmatch(name) or partitions < 1:  # the name is a folder of the log
            raise ValueError(f"invalid topic {name!r} with {partitions} partitions")
        created = [Partition(name, i, self._config.broker,
                             None if self._log_root is None else self._log_root / name / str(i))
                   for i in range(partitions)]
        for partition in created:
            spec = ChildSpec(partition.name, "broker",
                             lambda sink, p=partition: PartitionActor.start(p, self._metrics, sink))
            handle = self._handles[partition.name] = start_child(self._supervisor, spec)
            partition.mailbox = _teller(handle)
        deadline = time.monotonic() + START_TIMEOUT_S
        for partition in created:
            while not partition.ready.wait(0.05):
                if partition.failure is not None or time.monotonic() > deadline:
                    raise Unavailable(f"{partition.name} did not start: {partition.failure or 'timed out'}",
                                      {"topic": name, "partition": partition.index})
        self._topics[name] = created

    def publish(self, topic: str, key: str, event: bytes) -> tuple[int, int]:
        partitions = self._topics.get(topic)
        if partitions is None:
            raise ValueError(f"unknown topic {topic!r}")
        partition = partitions[partition_for(key, len(partitions))]
        return partition.index, partition.append(key, event)

    def subscribe(self, topic: str, group: str, handler: Handler, *, each_instance: bool = False) -> None:
        """``each_instance`` changes nothing here: this process is the only instance, and the group keeps
        its plain name (and its committed offsets)."""
        if (topic, group) in self._subscriptions:
            raise ValueError(f"group {group!r} already subscribes to {topic!r} in this process")
        if topic not in self._topics:
            raise ValueError(f"unknown topic {topic!r}")
        self._subscriptions.add((topic, group))
        for partition in self._topics[topic]:
            partition.add_group(group, handler)
            partition.mailbox(StartDelivery(group))

    def partitions(self, topic: str) -> list[Partition]:
        """The partitions of ``topic``, for health checks, tests and benchmarks."""
        return list(self._topics[topic])

    def handle(self, partition: Partition) -> ChildHandle:
        """The supervisor's handle on ``partition``'s actor."""
        return self._handles[partition.name]

    def hand_over(self) -> None:
        """Nothing to hand over: the only instance keeps its partitions until it closes."""

    def close(self, timeout_s: float = 10.0) -> None:
        if self._closed:
            return
        self._closed = True
        everything = [p for partitions in self._topics.values() for p in partitions]
        for partition in everything:
            partition.stop_publishing()
        deadline = time.monotonic() + timeout_s
        pending = everything
        while pending and time.monotonic() < deadline:
            runtime.sleep(0.005)
            pending = [p for p in pending if not p.drained() and self._handles[p.name].is_alive()]
        for partition in pending:
            logs.event(log, "broker.drain_incomplete", logging.WARNING, topic=partition.topic,
                       partition=partition.index, offset=partition.head, lag=partition.lags())
        try:  # each partition's on_stop syncs its log and saves its groups' offsets
            self._supervisor.ask(StopChildren("broker"), timeout=timeout_s + 30)
        except pykka.ActorDeadError:
            pass  # the supervisor already stopped every child
