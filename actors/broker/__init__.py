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


def start_broker(supervisor: pykka.ActorRef, config: AppConfig, metrics: Metrics,
                 jobs: list[SingletonJob] | None = None) -> Broker:
    """Create the configured topics, each partition a child of ``supervisor``, once their logs are recovered.

    ``jobs`` is the process's list of singleton jobs: components append theirs at start-up; with Redis
    they run on one instance of the cluster, in memory on this one."""
    broker: Broker
    jobs = [] if jobs is None else jobs
    if config.broker.backend == "redis":
        broker = redis_broker = RedisBroker(supervisor, config, metrics)
        jobs.append(SingletonJob("broker.retention", RETENTION_EVERY_S, redis_broker.trim_by_age))
        start_cluster(supervisor, redis_broker.client, redis_broker.prefix, redis_broker.consumer, jobs)
    else:
        broker = LocalBroker(supervisor, config, metrics)
        start_cluster(supervisor, None, "", "local", jobs)
    for name, partitions in config.topic_partitions().items():
        broker.create_topic(name, partitions)
    return broker
