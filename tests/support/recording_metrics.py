"""A ``domain.metrics.Metrics`` that remembers what was sent, for tests that look at metric names."""
from __future__ import annotations


class RecordingMetrics:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.gauges: dict[str, float] = {}
        self.timings: dict[str, list[float]] = {}

    def incr(self, name: str, count: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + count

    def gauge(self, name: str, value: float) -> None:
        self.gauges[name] = value

    def timing(self, name: str, ms: float) -> None:
        self.timings.setdefault(name, []).append(ms)
