"""The brokers: in-process (partitioned topics, consumer groups, an optional segment log) or Redis Streams.

``start_broker`` is the bootstrap's entry point; everything else uses ``domain.broker.Broker``.
"""
from __future__ import annotations

import pykka

from actors.broker import instance_groups
from actors.broker.local import LocalBroker
from actors.broker.redis_streams import RedisBroker
from actors.cluster import SingletonJob, start_cluster
from domain.broker import Broker
from domain.config import AppConfig
from domain.metrics import Metrics

__all__ = ["LocalBroker", "RedisBroker", "start_broker"]

RETENTION_EVERY_S = 60.0


def start_broker(supervisor: pykka.ActorRef, config: AppConfig, metrics: Metrics,
                 jobs: list[SingletonJob] | None = None) -> Broker:
    """Create the configured topics, each partition a child of ``supervisor``, once their logs are recovered.

    ``jobs`` is the process's list of singleton jobs: components append theirs at start-up; with Redis
    they run on one instance of the cluster, in memory on this one. With Redis the broker adds the
    retention by age and the reaping of dead instances' groups."""
    broker: Broker
    jobs = [] if jobs is None else jobs
    if config.broker.backend == "redis":
        broker = redis_broker = RedisBroker(supervisor, config, metrics)
        jobs.append(SingletonJob("broker.retention", RETENTION_EVERY_S, redis_broker.trim_by_age))
        jobs.append(SingletonJob("broker.reap_groups", instance_groups.REAP_EVERY_S, redis_broker.reaper.run))
        start_cluster(supervisor, redis_broker.client, redis_broker.prefix, redis_broker.instance_id, jobs)
    else:
        broker = LocalBroker(supervisor, config, metrics)
        start_cluster(supervisor, None, "", broker.instance_id, jobs)
    for name, partitions in config.topic_partitions().items():
        broker.create_topic(name, partitions)
    return broker
