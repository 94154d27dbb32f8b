"""Token buckets in the cluster's Redis, so a limit is one limit however many instances a caller uses.

Each take is one Lua script (atomic in Redis): refill by the time elapsed on Redis's own clock (the
instances' clocks never meet), take if there is enough, set the bucket to expire once it would be full
again (idle callers cost nothing). The bucket is a hash ``<prefix>:limit:<name>:<key>``.

When Redis does not answer within ``TIMEOUT_S`` the instance falls back to its own buckets
(``domain.ratelimit.RateLimiter``, one per limit) for ``RETRY_S`` before asking Redis again, so an
outage costs at most one short wait per second and requests keep being limited, per instance meanwhile.
``status()`` says which buckets are in use (``/health`` → ``components.limits``).
"""
from __future__ import annotations

import logging
import time
from typing import Any

import redis

from domain import logs
from domain.ratelimit import RateLimiter

log = logging.getLogger("confab.limits")

TIMEOUT_S = 0.25
RETRY_S = 1.0

_TAKE = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1000000
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens, stamp = tonumber(bucket[1]), tonumber(bucket[2])
if tokens == nil then tokens, stamp = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
if tokens < cost then return tostring((cost - tokens) / rate) end
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - cost), 'stamp', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
end
return '0'
"""


class SharedLimits:
    """The Redis side of every shared limiter of this process, and whether it is reachable."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client, self.prefix = client, prefix
        self._take = client.register_script(_TAKE)
        self.local_until = 0.0  # monotonic time until which the local buckets are used
        self.error = ""

    @classmethod
    def connect(cls, url: str, prefix: str) -> SharedLimits:
        """A client of its own with short timeouts: a limit must never hold a request up for long."""
        return cls(redis.Redis.from_url(url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S), prefix)

    def limiter(self, name: str, rate: float, burst: int) -> SharedLimiter:
        return SharedLimiter(self, name, rate, burst)

    def status(self) -> dict[str, Any]:
        if self.error:
            return {"status": "degraded", "buckets": "local (Redis unreachable)", "error": self.error}
        return {"status": "ok", "buckets": "redis"}

    def take(self, name: str, key: str, rate: float, burst: int, cost: float, take: bool) -> float | None:
        """The wait from the shared bucket, or None while Redis is out of reach (use the local one)."""
        if self.error and time.monotonic() < self.local_until:
            return None
        try:
            wait = float(self._take(keys=[f"{self.prefix}:limit:{name}:{key}"],
                                    args=[rate, burst, cost, "1" if take else "0"]))
        except redis.RedisError as exc:
            self.local_until = time.monotonic() + RETRY_S
            if not self.error:
                logs.event(log, "limits.local_buckets", logging.WARNING, error=str(exc), retry_s=RETRY_S)
            self.error = str(exc) or type(exc).__name__
            return None
        if self.error:
            logs.event(log, "limits.shared_buckets_again")
            self.error = ""
        return wait


class SharedLimiter:
    """One limit (``domain.ratelimit.Limiter``) kept in Redis, with local buckets to fall back on."""

    def __init__(self, shared: SharedLimits, name: str, rate: float, burst: int) -> None:
        self.shared, self.name, self.rate, self.burst = shared, name, rate, burst
        self.local = RateLimiter(rate, burst)

    def check(self, key: str, cost: float = 1.0) -> float:
        wait = self.shared.take(self.name, key, self.rate, self.burst, cost, take=True)
        return self.local.check(key, cost) if wait is None else wait

    def wait(self, key: str, cost: float = 1.0) -> float:
        wait = self.shared.take(self.name, key, self.rate, self.burst, cost, take=False)
        return self.local.wait(key, cost) if wait is None else wait
