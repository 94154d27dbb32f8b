"""Rate limits for the whole server: the limiter factory the bootstrap hands to HTTP and chat.

On one instance every limit is this process's own buckets. In a cluster (``broker.backend = redis``)
they live in Redis (``storage.redis_ratelimit``): a user or an address with sockets and requests on
several instances gets one limit, not one per instance. The ``limits`` component reports which buckets
are in use: ``degraded`` while Redis is out of reach and the instance limits on its own.
"""
from __future__ import annotations

import pykka

from actors.cluster import SharedRedis
from actors.component import HealthSink, PeriodicActor
from actors.supervisor import ChildSpec, start_child
from domain.config import AppConfig
from domain.ratelimit import LimiterFactory, local_limiter
from storage.redis_ratelimit import SharedLimits

REPORT_EVERY_S = 1.0


class LimitsHealth(PeriodicActor):
    def __init__(self, health_sink: HealthSink, limits: SharedLimits) -> None:
        super().__init__("limits", health_sink, REPORT_EVERY_S)
        self.limits = limits
        self._last: dict[str, str] = {}

    def tick(self) -> None:
        status = self.limits.status()
        if status != self._last:  # a report per change
            self._last = status
            detail = dict(status)
            self.report_health(detail.pop("status"), True, **detail)


def start_limits(supervisor: pykka.ActorRef, config: AppConfig, shared: SharedRedis | None) -> LimiterFactory:
    """Local buckets on one instance; with a cluster's Redis, shared buckets and their health."""
    if shared is None:
        return local_limiter
    limits = SharedLimits.connect(config.broker.redis_url, shared.prefix)
    start_child(supervisor, ChildSpec("limits", "limits", lambda sink: LimitsHealth.start(sink, limits)))
    return limits.limiter
