"""Several instances on one Redis: a registry of live instances and singleton jobs.

Each instance keeps ``<prefix>:instance:<id>`` alive with a heartbeat (a key with a TTL), so the
registry is whatever keys exist; ``/health`` shows it under the ``cluster`` component. A singleton job
(retention, compaction, webhook dispatch) runs on whichever instance holds its lease; when that
instance dies the lease expires and another instance's next heartbeat takes the job over.

Without Redis (the embedded default) there is one instance: it holds every lease.
Each component's start returns its singleton jobs; the bootstrap starts the registry with all of them
once every component has started.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple, Sequence

import pykka
import redis

from actors import runtime
from actors.component import HealthSink, PeriodicActor
from actors.supervisor import ChildHandle, ChildSpec, start_child
from domain import logs
from domain.errors import Unavailable
from storage.redis_lease import Lease
from storage.unavailable import STORAGE_DOWN, storage_unavailable

log = logging.getLogger("confab.cluster")

HEARTBEAT_S = 1.0
INSTANCE_TTL_MS = 5000


def instance_key(prefix: str, instance_id: str) -> str:
    return f"{prefix}:instance:{instance_id}"


def live_instances(client: redis.Redis, prefix: str) -> set[str]:
    """The ids of the instances whose heartbeat key has not expired."""
    return {key.decode().rsplit(":", 1)[1] for key in client.scan_iter(instance_key(prefix, "*"), count=1000)}


class SharedRedis(NamedTuple):
    """The Redis the instances of a cluster share (streams, leases, this registry, presence), and the
    prefix of every key Confab keeps there."""
    client: redis.Redis
    prefix: str


@dataclass
class SingletonJob:
    """``run`` is called every ``interval_s`` on the one instance holding the job's lease."""
    name: str
    interval_s: float
    run: Callable[[], None]
    last_run: float = field(default=0.0)


class ClusterActor(PeriodicActor):
    def __init__(self, health_sink: HealthSink, shared: SharedRedis | None, instance_id: str,
                 jobs: Sequence[SingletonJob]) -> None:
        super().__init__("cluster", health_sink, HEARTBEAT_S)
        self.client, self.prefix = shared if shared is not None else (None, "")
        self.instance_id, self.jobs = instance_id, tuple(jobs)
        self.leases: dict[str, Lease] = {}
        self.info = {"id": instance_id, "host": socket.gethostname(), "pid": os.getpid(), "started_at": time.time()}
        self._running: dict[str, Any] = {}

    def on_stop(self) -> None:
        super().on_stop()
        for greenlet in self._running.values():
            greenlet.kill(block=True, timeout=2.0)
        for lease in self.leases.values():
            lease.release()
        if self.client is not None:
            try:
                self.client.delete(instance_key(self.prefix, self.instance_id))
            except redis.RedisError:
                pass

    def tick(self) -> None:
        try:
            instances = self._register()
            held = [job.name for job in self.jobs if self._drive(job)]
            self.report_health("ok", True, instance_id=self.instance_id, instances=instances, singleton_jobs=held)
        except redis.RedisError as exc:
            logs.event(log, "cluster.heartbeat_failed", logging.WARNING, error=str(exc))
            self.report_health("degraded", True, instance_id=self.instance_id, error=str(exc))

    def _register(self) -> list[str]:
        """Renew this instance's key; the ids of every live instance."""
        if self.client is None:
            return [self.instance_id]
        self.client.set(instance_key(self.prefix, self.instance_id), json.dumps(self.info), px=INSTANCE_TTL_MS)
        return sorted(live_instances(self.client, self.prefix))

    def _holds(self, job: SingletonJob) -> bool:
        if self.client is None:
            return True
        lease = self.leases.get(job.name)
        if lease is None:
            lease = self.leases[job.name] = Lease(self.client, f"{self.prefix}:singleton:{job.name}",
                                                  self.instance_id, INSTANCE_TTL_MS)
        return lease.acquire()

    def _drive(self, job: SingletonJob) -> bool:
        """Start ``job`` when its lease is ours and it is due; True while this instance holds it."""
        if not self._holds(job):
            return False
        running = self._running.get(job.name)
        if (running is None or running.dead) and time.monotonic() - job.last_run >= job.interval_s:
            job.last_run = time.monotonic()
            self._running[job.name] = runtime.spawn(self._run, job)
        return True

    def _run(self, job: SingletonJob) -> None:
        started = time.monotonic()
        try:
            job.run()
        except STORAGE_DOWN as exc:  # an outage, not a bug: no traceback every interval
            storage_unavailable(exc, log, job=job.name)
            return
        except Unavailable as exc:  # the broker closing (a graceful stop) or out of reach: the next run tries again
            logs.event(log, "singleton.unavailable", logging.WARNING, job=job.name, error=exc.message)
            return
        except Exception as exc:  # noqa: BLE001 — the next interval tries again
            logs.event(log, "singleton.failed", logging.ERROR, exc_info=exc, job=job.name)
            return
        logs.event(log, "singleton.ran", logging.DEBUG, job=job.name, ms=round((time.monotonic() - started) * 1000))


def start_cluster(supervisor: pykka.ActorRef, shared: SharedRedis | None, instance_id: str,
                  jobs: Sequence[SingletonJob]) -> ChildHandle:
    """Register this instance (with Redis) and run ``jobs``, each on the one instance holding its lease."""
    return start_child(supervisor, ChildSpec(
        "cluster", "cluster", lambda sink: ClusterActor.start(sink, shared, instance_id, jobs)))
