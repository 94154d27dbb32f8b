"""Metrics sink: statsd over UDP when enabled, a silent sink otherwise. The catalog is docs/metrics.md.

Where a series lives follows from its statsd type. A gauge is "the value now" and statsd keeps the
last one it received, so gauges from several instances would overwrite each other: every gauge is
sent under the instance's name, ``<prefix>.<instance>.<name>``. Counters and timers add up across
senders in the statsd daemon, so they are cluster-wide, ``<prefix>.<name>`` (all instances send to one
daemon). The instance name comes from ``statsd.instance``, else the host name; it never changes on a
restart, so neither does a series.
"""
from __future__ import annotations

import logging
import re
import socket
from typing import Protocol

import statsd

from domain.config import StatsdConfig

log = logging.getLogger("confab.metrics")

#: statsd call → where its series lives (docs/metrics.md's "scope" column; a test holds them equal)
SCOPE = {"incr": "cluster", "gauge": "instance", "timing": "cluster"}
_NOT_IN_A_SEGMENT = re.compile(r"[^A-Za-z0-9_-]+")


class Metrics(Protocol):
    def incr(self, name: str, count: int = 1) -> None: ...
    def gauge(self, name: str, value: float) -> None: ...
    def timing(self, name: str, ms: float) -> None: ...


def segment(text: str) -> str:
    """``text`` as one Graphite path segment: a dot would split it, other characters statsd drops."""
    return _NOT_IN_A_SEGMENT.sub("_", text).strip("_") or "unknown"


def instance_name(configured: str) -> str:
    """The instance part of per-instance names: ``statsd.instance``, else the host name, as one segment."""
    return segment(configured or socket.gethostname())


class NullMetrics:
    def incr(self, name: str, count: int = 1) -> None:
        pass

    def gauge(self, name: str, value: float) -> None:
        pass

    def timing(self, name: str, ms: float) -> None:
        pass


class StatsdMetrics:
    """Fire-and-forget UDP; a send failure never reaches the caller."""

    def __init__(self, host: str, port: int, prefix: str, instance: str) -> None:
        self._client = statsd.StatsClient(host, port, prefix=prefix or None)
        self._instance = instance

    def incr(self, name: str, count: int = 1) -> None:
        self._client.incr(name, count)

    def gauge(self, name: str, value: float) -> None:
        self._client.gauge(f"{self._instance}.{name}", value)

    def timing(self, name: str, ms: float) -> None:
        self._client.timing(name, ms)


def create_metrics(config: StatsdConfig) -> Metrics:
    if not config.enabled:
        return NullMetrics()
    try:
        return StatsdMetrics(config.host, config.port, config.prefix, instance_name(config.instance))
    except OSError as exc:  # unresolvable host: metrics are optional, the server is not
        log.warning("statsd.disabled", extra={"fields": {"reason": str(exc)}})
        return NullMetrics()
