"""Spreading the partitions of a shared consumer group over the instances that consume it.

Each partition of a shared group is read by one instance at a time, the holder of its lease
(``actors.broker.redis_partition``). Left alone, the first instance to start would take every lease and
keep it while alive, doing all of the group's work. Instead each instance aims for its share,
``ceil(P / N)`` of the topic's ``P`` partitions among the ``N`` instances consuming the group: each
renews its membership (``<prefix>:members:<topic>:<group>``, a sorted set scored by Redis time) whenever
it counts the members, which its delivery greenlets do at least every half second; a member gone quiet for
``MEMBER_TTL_MS`` no longer counts. Counting consumers rather than the cluster registry means an
instance that registered but has not subscribed yet is not handed partitions it would leave unread.

- A lease handed over (released, marked so for ``FREE_GRACE_S``) is taken by an instance under its
  share; once the mark is gone, and at once when a lease expired (its holder died), by any instance,
  so a lone survivor ends up with everything whatever its view of the others.
- An instance over its share releases its highest-numbered partition held at least ``MIN_HOLD_S`` at
  the next record boundary, after the record in hand is acknowledged; the next holder first reclaims
  what was read and not acknowledged, so per-partition order holds across the handoff. ``MIN_HOLD_S``
  guarantees progress if views disagree: a partition is never passed around without being read.
"""
from __future__ import annotations

import time

import redis

FREE_GRACE_S = 2.0
MIN_HOLD_S = 3.0
MEMBER_TTL_MS = 1500  # as long as a lease (``redis_streams.LEASE_MS``): a dead member stops counting as its
COUNT_EVERY_S = 0.5  # leases expire, so the survivors keep what they took over instead of passing it around

# renew this member, forget the silent ones, count; scored by Redis' clock so instances' clocks may differ
_RENEW_AND_COUNT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
return redis.call('ZCARD', KEYS[1])
"""


class FairShare:
    """This instance's holdings of shared groups' partitions, and whether it should take or give one."""

    def __init__(self, client: redis.Redis, prefix: str, instance_id: str) -> None:
        self.client, self.prefix, self.instance_id = client, prefix, instance_id
        self._count_script = client.register_script(_RENEW_AND_COUNT)
        self._held: dict[tuple[str, str], dict[int, float]] = {}  # (topic, group) → partition → taken at
        self._members: dict[tuple[str, str], tuple[float, int]] = {}  # (topic, group) → (counted at, count)

    def share(self, topic: str, group: str, partitions: int) -> int:
        """``ceil(partitions / consuming instances)``; renews this instance's membership when due."""
        key = (topic, group)
        counted_at, count = self._members.get(key, (0.0, 1))
        if time.monotonic() - counted_at >= COUNT_EVERY_S:
            self._members[key] = (time.monotonic(), count)  # the others use the last count meanwhile
            count = max(1, int(self._count_script(keys=[self._members_key(topic, group)],
                                                  args=[self.instance_id, MEMBER_TTL_MS])))
            self._members[key] = (time.monotonic(), count)
        return -(-partitions // count)

    def leave(self) -> None:
        """Graceful stop, once this instance's greenlets are gone: stop counting as a member, so the others'
        shares grow at their next count instead of ``MEMBER_TTL_MS`` later."""
        for topic, group in list(self._members):
            self.client.zrem(self._members_key(topic, group), self.instance_id)

    def _members_key(self, topic: str, group: str) -> str:
        return f"{self.prefix}:members:{topic}:{group}"

    def holds(self, topic: str, group: str, index: int) -> bool:
        return index in self._held.get((topic, group), {})

    def reserve(self, topic: str, group: str, partitions: int, index: int, anyway: bool) -> bool:
        """Count ``index`` as held if this instance is under its share (or ``anyway``: the lease is ours
        already, or free without a released mark); the caller then takes the lease or calls ``drop``.
        No yield between the check and the count, so one instance's greenlets never overshoot together."""
        share = self.share(topic, group, partitions)
        held = self._held.setdefault((topic, group), {})
        if not anyway and len(held) >= share:
            return False
        held[index] = time.monotonic()
        return True

    def drop(self, topic: str, group: str, index: int) -> None:
        self._held.get((topic, group), {}).pop(index, None)

    def surplus(self, topic: str, group: str, partitions: int, index: int) -> bool:
        """True when this instance holds more than its share and ``index`` is the partition to give up."""
        held = self._held.get((topic, group), {})
        if len(held) <= self.share(topic, group, partitions):
            return False
        settled = [i for i, since in held.items() if time.monotonic() - since >= MIN_HOLD_S]
        return bool(settled) and index == max(settled)
