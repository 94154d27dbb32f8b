"""Consumer-group lag as gauges a dashboard can keep: ``broker.lag.<topic>.<partition>.<group>``.

Gauges are per instance (``domain.metrics``), so the name needs no instance id: a group of one instance
(``each_instance``; on Redis ``<group>.<instance id>``) is reported by that instance alone, under its
plain name, and keeps its series across restarts. A shared group's lag is the cluster's, the same seen
from every instance. Topic and group names are single path segments (``chat.events`` → ``chat_events``).
"""
from __future__ import annotations

from typing import Mapping

from domain.metrics import Metrics, segment


def report_lags(metrics: Metrics, topic: str, partition: int, lags: Mapping[str, int]) -> None:
    """One gauge per group of ``lags`` (already keyed by the group's plain name)."""
    for group, lag in lags.items():
        metrics.gauge(f"broker.lag.{segment(topic)}.{partition}.{segment(group)}", lag)
