"""Consumer groups that belong to one instance, for what every instance must see (chat events, replies
to its callers, presence changes) while commands keep one shared group and are processed once.

On the in-process broker there is one instance and the plain group name is kept (its committed offsets
stay where they were). On Redis the group is ``<name>.<instance id>`` (``RedisBroker.consumer``),
created at the stream's end: a new instance wants what happens from now on, not the whole history
(which would also count as lag and hold every publisher back).

A stopped instance's groups are destroyed at graceful shutdown. A killed instance's groups stay and
their lag grows with every event, until publishes wait on them (``queue_size``): ``reap`` (a
singleton job) destroys the groups of instances missing from the registry on two runs in a row.
"""
from __future__ import annotations

import logging
import re
from typing import Any

import redis

from domain import logs
from domain.broker import Broker, Handler

log = logging.getLogger("confab.chat")

REAP_EVERY_S = 5.0
_INSTANCE_SUFFIX = re.compile(r"\.(instance-[0-9a-f]+)$")


class InstanceGroups:
    def __init__(self, broker: Broker, partitions: dict[str, int]) -> None:
        self.broker, self.partitions = broker, partitions
        self.instance: str | None = getattr(broker, "consumer", None)  # None: the in-process broker
        self.client: redis.Redis | None = getattr(broker, "client", None) if self.instance else None
        self.prefix: str = getattr(broker, "prefix", "")
        self._mine: list[tuple[str, str]] = []  # (topic, group) subscribed by this instance
        self._suspects: set[tuple[str, str]] = set()  # (stream, group) of a missing instance, seen once

    @property
    def shared(self) -> bool:
        """True when several instances share the broker (Redis)."""
        return self.client is not None

    def subscribe(self, topic: str, name: str, handler: Handler) -> None:
        """Deliver every record of ``topic`` published from now on to this instance's ``handler``."""
        group = f"{name}.{self.instance}" if self.client is not None else name
        if self.client is not None:
            for stream in self._streams(topic):
                self.client.xgroup_create(stream, group, id="$", mkstream=True)
        self.broker.subscribe(topic, group, handler)
        self._mine.append((topic, group))

    def drop(self) -> None:
        """Graceful shutdown, after the broker stopped consuming: destroy this instance's groups."""
        if self.client is None:
            return
        for topic, group in self._mine:
            for stream in self._streams(topic):
                try:
                    self.client.xgroup_destroy(stream, group)
                except redis.RedisError as exc:
                    logs.event(log, "chat.group_drop_failed", logging.WARNING, stream=stream, group=group,
                               error=str(exc))
        self._mine.clear()

    def reap(self) -> None:
        """Destroy the per-instance groups of instances that left the registry (a singleton job)."""
        if self.client is None:
            return
        live = {key.decode().rsplit(":", 1)[1] for key in self.client.scan_iter(f"{self.prefix}:instance:*",
                                                                                  count=1000)}
        suspects: set[tuple[str, str]] = set()
        for topic in {topic for topic, _ in self._mine}:
            for stream in self._streams(topic):
                for info in self.client.xinfo_groups(stream):
                    group = info["name"].decode()
                    owner = _INSTANCE_SUFFIX.search(group)
                    if owner is None or owner.group(1) in live:
                        continue
                    if (stream, group) in self._suspects:
                        self.client.xgroup_destroy(stream, group)
                        logs.event(log, "chat.group_reaped", logging.INFO, stream=stream, group=group,
                                   lag=_lag(info))
                    else:
                        suspects.add((stream, group))
        self._suspects = suspects

    def _streams(self, topic: str) -> list[str]:
        stream_key = self.broker.stream_key  # type: ignore[attr-defined]  # only called with RedisBroker
        return [stream_key(topic, index) for index in range(self.partitions[topic])]


def _lag(info: dict[bytes | str, Any]) -> int:
    return int(info.get("lag") or 0) + int(info.get("pending") or 0)
