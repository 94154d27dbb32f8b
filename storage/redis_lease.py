"""A lease in Redis: one holder at a time, kept by renewing, lost by the holder's death after ``ttl_ms``.

``SET NX PX`` takes a free lease; renewal and release are compare-and-set scripts, so an instance
never extends or drops a lease another instance has taken over.
"""
from __future__ import annotations

import time

import redis

_RENEW = ("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end "
          "return 0")
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class Lease:
    def __init__(self, client: redis.Redis, key: str, holder: str, ttl_ms: int) -> None:
        self.client, self.key, self.holder, self.ttl_ms = client, key, holder, ttl_ms
        self._renewed = 0.0

    def acquire(self) -> bool:
        """Take the lease if free, or renew it if already ours."""
        held = bool(self.client.set(self.key, self.holder, nx=True, px=self.ttl_ms)) or bool(
            self.client.eval(_RENEW, 1, self.key, self.holder, self.ttl_ms))
        self._renewed = time.monotonic() if held else 0.0
        return held

    def keep(self) -> bool:
        """True while the lease is ours; renews it once a third of its life has passed."""
        if time.monotonic() - self._renewed < self.ttl_ms / 3000:
            return True
        return self.acquire()

    def release(self) -> None:
        self._renewed = 0.0
        try:
            self.client.eval(_RELEASE, 1, self.key, self.holder)
        except redis.RedisError:
            pass  # it expires by itself
