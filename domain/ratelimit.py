"""Token buckets keyed by caller: pure logic with an injected clock, bounded in memory.

The server's limits (HTTP per IP and per user, failed logins, chat sends) are made by a
``LimiterFactory`` the bootstrap chooses: ``local_limiter`` on one instance, buckets kept in the
cluster's Redis (``storage.redis_ratelimit``) when several share the load.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from typing import Callable, Protocol


class TokenBucket:
    __slots__ = ("rate", "capacity", "tokens", "stamp")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate, self.capacity, self.tokens, self.stamp = rate, capacity, capacity, now

    def take(self, now: float, cost: float = 1.0) -> float:
        """Take ``cost`` tokens; returns 0 when allowed, else the seconds until it would be."""
        wait = self.wait(now, cost)
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if not wait:
            self.tokens -= cost
        return wait

    def wait(self, now: float, cost: float = 1.0) -> float:
        """The seconds until ``cost`` tokens are there (0: now), taking nothing."""
        tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        return 0.0 if tokens >= cost else (cost - tokens) / self.rate


class RateLimiter:
    """One bucket per key; the least recently used keys are dropped past ``max_keys``."""

    def __init__(self, rate: float, burst: int, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.max_keys, self.clock = rate, burst, max_keys, clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def check(self, key: str, cost: float = 1.0) -> float:
        """0 when allowed; otherwise the seconds to wait (nothing is taken)."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, now)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket.take(now, cost)

    def wait(self, key: str, cost: float = 1.0) -> float:
        """Like ``check`` but taking nothing (and remembering no new key): 0 when ``cost`` is there."""
        bucket = self._buckets.get(key)
        return 0.0 if bucket is None else bucket.wait(self.clock(), cost)


class Limiter(Protocol):
    def check(self, key: str, cost: float = 1.0) -> float:
        """Take ``cost`` from ``key``'s bucket: 0 when allowed, else the seconds to wait (nothing taken)."""

    def wait(self, key: str, cost: float = 1.0) -> float:
        """The seconds until ``cost`` is in ``key``'s bucket (0: now), taking nothing."""


#: ``(name, rate per second, burst)`` → a limiter; ``name`` tells one limit's buckets from another's
LimiterFactory = Callable[[str, float, int], Limiter]


def local_limiter(name: str, rate: float, burst: int) -> RateLimiter:
    """This process's own buckets (one instance, or a cluster whose Redis is out of reach)."""
    return RateLimiter(rate, burst)
