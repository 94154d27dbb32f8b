"""Consumer groups that belong to one instance of a cluster (``subscribe(..., each_instance=True)``).

On Redis such a group is ``<group>.<instance id>``, created at the stream's end: a new instance wants
what happens from now on, not the history (which would also count as lag against every publisher).
A stopping instance destroys its groups (``RedisBroker.close``). A killed instance's groups stay and
their lag grows with every record, so:

- lag, and with it backpressure, ignores a group whose instance is missing from the cluster registry
  (``<prefix>:instance:<id>``, kept alive by ``actors.cluster`` while the instance runs);
- ``Reaper`` (the ``broker.reap_groups`` singleton job) destroys the groups of an instance missing from
  the registry on two runs in a row.
"""
from __future__ import annotations

import logging
import re
import time
from typing import Any, Callable, Iterable

import redis

from actors.cluster import live_instances
from domain import logs

log = logging.getLogger("confab.broker")

REAP_EVERY_S = 5.0
LIVE_CACHE_S = 1.0  # how stale the registry may be for lag; the reaper always reads it afresh
_OWNER = re.compile(r"\.(instance-[0-9a-f]+)$")


def instance_group(group: str, instance_id: str) -> str:
    return f"{group}.{instance_id}"


def plain_group(group: str) -> str:
    """``group`` without its instance suffix: the name it was subscribed with."""
    return _OWNER.sub("", group)


def owner_of(group: str) -> str | None:
    """The instance a per-instance group belongs to; None for a shared group."""
    found = _OWNER.search(group)
    return found.group(1) if found else None


class Registry:
    """The live instances of the cluster as seen from this one (which always counts itself)."""

    def __init__(self, client: redis.Redis, prefix: str, instance_id: str) -> None:
        self.client, self.prefix, self.instance_id = client, prefix, instance_id
        self._live: frozenset[str] = frozenset({instance_id})
        self._expires = 0.0

    def live(self, fresh: bool = False) -> frozenset[str]:
        if fresh or time.monotonic() >= self._expires:
            self._expires = time.monotonic() + LIVE_CACHE_S  # the others use the last view meanwhile
            self._live = frozenset(live_instances(self.client, self.prefix) | {self.instance_id})
        return self._live

    def counts(self, group: str) -> bool:
        """Whether ``group``'s lag holds publishers back: shared groups and live instances' groups."""
        owner = owner_of(group)
        return owner is None or owner in self.live()


class Reaper:
    """Destroys the per-instance groups of instances that left the registry (see the module docstring)."""

    def __init__(self, client: redis.Redis, registry: Registry, streams: Callable[[], Iterable[str]]) -> None:
        self.client, self.registry, self.streams = client, registry, streams
        self._suspects: set[tuple[str, str]] = set()  # (stream, group) whose instance was missing last run

    def run(self) -> None:
        live = self.registry.live(fresh=True)
        suspects: set[tuple[str, str]] = set()
        for stream in self.streams():
            try:
                groups = self.client.xinfo_groups(stream)
            except redis.ResponseError:  # no stream yet
                continue
            for info in groups:
                group = info["name"].decode()
                owner = owner_of(group)
                if owner is None or owner in live:
                    continue
                if (stream, group) in self._suspects:
                    self.client.xgroup_destroy(stream, group)
                    logs.event(log, "broker.group_reaped", logging.INFO, stream=stream, group=group, lag=lag_of(info))
                else:
                    suspects.add((stream, group))
        self._suspects = suspects


def lag_of(info: dict[Any, Any]) -> int:
    """Entries a group has not yet read or acknowledged, from ``XINFO GROUPS`` (Redis 7's lag + pending)."""
    return int(info.get("lag") or 0) + int(info.get("pending") or 0)
