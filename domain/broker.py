"""The broker interface every module uses; nothing above it knows which backend runs.

The in-process backend is ``actors.broker``; a Redis Streams backend fits the same protocol (one stream
per topic partition, consumer groups with acknowledged ids). Events are ``bytes``: callers serialize.

Delivery contract (both backends): records of one partition reach a group's handler one at a time in
offset order; a record is committed for the group after its handler returns; a handler that raises is
retried with backoff, never skipped. A handler whose work goes on after it returns (the chat writer's
group commit) may return a ``Completion``: the Redis backend then commits the record only once it is
done (at the end of each read batch, renewing its lease meanwhile), so the partition's next holder
handles it again if this instance dies first; the in-process backend commits at return. Delivery is at-least-once: after a crash a group resumes at its
last persisted commit, so handlers must be idempotent (dedupe by ``(topic, partition, offset)``).
"""
from __future__ import annotations

import zlib
from typing import Callable, NamedTuple, Protocol, runtime_checkable


class Record(NamedTuple):
    """One event as delivered to a handler."""
    topic: str
    partition: int
    offset: int
    key: str
    value: bytes
    timestamp: int  # milliseconds since the Unix epoch, set by the broker when it appended the record


@runtime_checkable
class Completion(Protocol):
    def wait(self, timeout: float | None = None) -> bool:
        """True once the work is done; False when ``timeout`` passed first."""
        ...


Handler = Callable[[Record], object]  # a ``Completion``, or anything else: done at return


class Producer(Protocol):
    def publish(self, topic: str, key: str, event: bytes) -> tuple[int, int]:
        """Append ``event`` to the partition of ``key``; returns ``(partition, offset)`` once it is appended
        (and, with a log, durable per its fsync policy). Raises ``domain.errors.Unavailable`` when the
        partition stays full for ``publish_timeout_s`` or the broker is closing; ``ValueError`` for an
        unknown topic."""
        ...


class Consumer(Protocol):
    def subscribe(self, topic: str, group: str, handler: Handler, *, each_instance: bool = False) -> None:
        """Deliver every partition of ``topic`` to ``handler`` for consumer group ``group``, resuming after
        the group's last committed offset. A group new to a partition starts at the oldest record still
        held for delivery (in-process: the partition's last ``queue_size`` records). One handler per group
        and topic in a process; a second raises ``ValueError``.

        A plain group is shared by the instances of a cluster: each record is handled once, by whichever
        instance holds its partition. With ``each_instance`` every instance reads the topic in a group of
        its own, from the moment it subscribes (no history), and the group goes when the instance does;
        for what every instance must see (fan-out, replies to its callers). In-process there is one
        instance and the group is ``group`` itself."""
        ...


class Broker(Producer, Consumer, Protocol):
    instance_id: str  # this process in the cluster registry (``"local"`` for the in-process broker)

    def create_topic(self, name: str, partitions: int) -> None:
        """Create ``name`` with ``partitions`` partitions; a no-op when it exists with that many."""
        ...

    def hand_over(self) -> None:
        """Graceful shutdown, first step: the shared groups' partitions go to the other instances (the
        work in hand finished first); this instance's own groups go on. A no-op on one instance."""
        ...

    def close(self, timeout_s: float = 10.0) -> None:
        """Graceful shutdown: refuse new publishes, deliver what is queued (up to ``timeout_s``), commit
        the groups' offsets and sync the log."""
        ...


def partition_for(key: str, partitions: int) -> int:
    """The partition of ``key``: CRC-32 of its UTF-8 bytes, stable across processes and restarts
    (Python's ``hash()`` is salted per process)."""
    return zlib.crc32(key.encode()) % partitions
