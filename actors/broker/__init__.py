"""The brokers: in-process (partitioned topics, consumer groups, an optional segment log) or Redis Streams.

``start_broker`` is the bootstrap's entry point; everything else uses ``domain.broker.Broker``.
"""
from __future__ import annotations

import pykka

from actors.broker.local import LocalBroker
from actors.cluster import SingletonJob, start_cluster
from actors.broker.redis_streams import RedisBroker
from domain.broker import Broker
from domain.config import AppConfig
from domain.metrics import Metrics

__all__ = ["LocalBroker", "RedisBroker", "start_broker"]

RETENTION_EVERY_S = 60.0


def start_broker(supervisor: pykka.ActorRef, config: AppConfig, metrics: Metrics) -> Broker:
    """Create the configured topics, each partition a child of ``supervisor``, once their logs are recovered."""
    broker: Broker
    if config.broker.backend == "redis":
        broker = redis_broker = RedisBroker(supervisor, config, metrics)
        start_cluster(supervisor, redis_broker.client, redis_broker.prefix, redis_broker.consumer,
                      [SingletonJob("broker.retention", RETENTION_EVERY_S, redis_broker.trim_by_age)])
    else:
        broker = LocalBroker(supervisor, config, metrics)
    for name, partitions in config.topic_partitions().items():
        broker.create_topic(name, partitions)
    return broker
