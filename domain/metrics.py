"""Metrics sink: statsd over UDP when enabled, a silent sink otherwise. Names follow API.md."""
from __future__ import annotations

import logging
from typing import Protocol

import statsd

from domain.config import StatsdConfig

log = logging.getLogger("confab.metrics")


class Metrics(Protocol):
    def incr(self, name: str, count: int = 1) -> None: ...
    def gauge(self, name: str, value: float) -> None: ...
    def timing(self, name: str, ms: float) -> None: ...


class NullMetrics:
    def incr(self, name: str, count: int = 1) -> None:
        pass

    def gauge(self, name: str, value: float) -> None:
        pass

    def timing(self, name: str, ms: float) -> None:
        pass


class StatsdMetrics:
    """Fire-and-forget UDP; a send failure never reaches the caller."""

    def __init__(self, host: str, port: int, prefix: str) -> None:
        self._client = statsd.StatsClient(host, port, prefix=prefix or None)

    def incr(self, name: str, count: int = 1) -> None:
        self._client.incr(name, count)

    def gauge(self, name: str, value: float) -> None:
        self._client.gauge(name, value)

    def timing(self, name: str, ms: float) -> None:
        self._client.timing(name, ms)


def create_metrics(config: StatsdConfig) -> Metrics:
    if not config.enabled:
        return NullMetrics()
    try:
        return StatsdMetrics(config.host, config.port, config.prefix)
    except OSError as exc:  # unresolvable host: metrics are optional, the server is not
        log.warning("statsd.disabled", extra={"fields": {"reason": str(exc)}})
        return NullMetrics()
