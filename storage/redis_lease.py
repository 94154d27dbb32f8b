"""A lease in Redis: one holder at a time, kept by renewing, lost by the holder's death after ``ttl_ms``.

Taking and renewing are compare-and-set scripts, so an instance never extends or takes a lease another
instance holds. A lease given up on purpose (``release``) either disappears or, with ``handoff_ms``,
is left marked ``RELEASED`` for that long: whoever takes leases can then tell a lease handed over (to
be shared out fairly) from one that expired (its holder died: to be taken at once).
"""
from __future__ import annotations

import time

import redis

RELEASED = b"released"

# take when free, marked released, or already ours; renew in the same stroke
_ACQUIRE = """
local holder = redis.call('get', KEYS[1])
if holder == false or holder == ARGV[1] or holder == ARGV[3] then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) > 0 then return redis.call('set', KEYS[1], ARGV[3], 'PX', ARGV[2]) end
return redis.call('del', KEYS[1])
"""


class Lease:
    def __init__(self, client: redis.Redis, key: str, holder: str, ttl_ms: int, handoff_ms: int = 0) -> None:
        self.client, self.key, self.holder, self.ttl_ms, self.handoff_ms = client, key, holder, ttl_ms, handoff_ms
        self._renewed = 0.0

    def acquire(self) -> bool:
        """Take the lease if free (or marked released), or renew it if already ours."""
        held = bool(self.client.eval(_ACQUIRE, 1, self.key, self.holder, self.ttl_ms, RELEASED))
        self._renewed = time.monotonic() if held else 0.0
        return held

    def keep(self) -> bool:
        """True while the lease is ours; renews it once a third of its life has passed."""
        if time.monotonic() - self._renewed < self.ttl_ms / 3000:
            return True
        return self.acquire()

    def release(self, to_anyone: bool = False) -> None:
        """Give the lease up: marked released for ``handoff_ms``, or (``to_anyone``) free for all at once."""
        self._renewed = 0.0
        try:
            self.client.eval(_RELEASE, 1, self.key, self.holder, 0 if to_anyone else self.handoff_ms, RELEASED)
        except redis.RedisError:
            pass  # it expires by itself
