"""The in-process broker: partitioned topics, consumer groups, an optional append-only segment log.

``start_broker`` is the bootstrap's entry point; everything else uses ``domain.broker.Broker``.
"""
from __future__ import annotations

import pykka

from actors.broker.local import LocalBroker
from domain.config import AppConfig, ConfigError
from domain.metrics import Metrics

__all__ = ["LocalBroker", "start_broker"]


def start_broker(supervisor: pykka.ActorRef, config: AppConfig, metrics: Metrics) -> LocalBroker:
    """Create the configured topics, each partition a child of ``supervisor``, once their logs are recovered."""
    if config.broker.backend != "memory":
        raise ConfigError(f"broker.backend: {config.broker.backend!r} is not available in this build")
    broker = LocalBroker(supervisor, config, metrics)
    for name, partitions in config.topic_partitions().items():
        broker.create_topic(name, partitions)
    return broker
