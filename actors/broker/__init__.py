"""The brokers: in-process (partitioned topics, consumer groups, an optional segment log) or Redis Streams.

``start_broker`` is the bootstrap's entry point; everything else uses ``domain.broker.Broker``.
"""
from __future__ import annotations

from dataclasses import dataclass

import pykka

from actors.broker import instance_groups
from actors.broker.local import LocalBroker
from actors.broker.redis_streams import RedisBroker
from actors.cluster import SharedRedis, SingletonJob
from domain.broker import Broker
from domain.config import AppConfig
from domain.metrics import Metrics

__all__ = ["LocalBroker", "Messaging", "RedisBroker", "start_broker"]

RETENTION_EVERY_S = 60.0


@dataclass(frozen=True)
class Messaging:
    """What the broker component gives the rest of the server."""
    broker: Broker
    shared: SharedRedis | None  # the Redis a cluster shares; None on one instance (the in-process broker)
    jobs: tuple[SingletonJob, ...]  # with Redis: retention by age, the reaping of dead instances' groups


def start_broker(supervisor: pykka.ActorRef, config: AppConfig, metrics: Metrics) -> Messaging:
    """Create the configured topics, each partition a child of ``supervisor``, once their logs are recovered."""
    if config.broker.backend == "redis":
        redis_broker = RedisBroker(supervisor, config, metrics)
        messaging = Messaging(redis_broker, SharedRedis(redis_broker.client, redis_broker.prefix), (
            SingletonJob("broker.retention", RETENTION_EVERY_S, redis_broker.trim_by_age),
            SingletonJob("broker.reap_groups", instance_groups.REAP_EVERY_S, redis_broker.reaper.run)))
    else:
        messaging = Messaging(LocalBroker(supervisor, config, metrics), None, ())
    for name, partitions in config.topic_partitions().items():
        messaging.broker.create_topic(name, partitions)
    return messaging
