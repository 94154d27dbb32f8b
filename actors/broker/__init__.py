"""The brokers: in-process (partitioned topics, consumer groups, an optional segment log) or Redis Streams.

``start_broker`` is the bootstrap's entry point; everything else uses ``domain.broker.Broker``.
"""
from __future__ import annotations

import pykka

from actors.broker.local import LocalBroker
from actors.broker.redis_streams import RedisBroker
from domain.broker import Broker
from domain.config import AppConfig
from domain.metrics import Metrics

__all__ = ["LocalBroker", "RedisBroker", "start_broker"]


def start_broker(supervisor: pykka.ActorRef, config: AppConfig, metrics: Metrics) -> Broker:
    """Create the configured topics, each partition a child of ``supervisor``, once their logs are recovered."""
    broker: Broker = (RedisBroker(supervisor, config, metrics) if config.broker.backend == "redis"
                      else LocalBroker(supervisor, config, metrics))
    for name, partitions in config.topic_partitions().items():
        broker.create_topic(name, partitions)
    return broker
