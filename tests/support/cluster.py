"""Several ``python app.py`` instances sharing a fresh PostgreSQL database and one Redis key prefix,
as an operator runs a cluster (see the README's scale-out section)."""
from __future__ import annotations

import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import psycopg
import redis

from tests.support import services
from tests.support.harness import ServerProcess

POSTGRES_URL, REDIS_URL = services.POSTGRES_URL, services.REDIS_URL


def require_cluster_services() -> None:
    """Call at module level: skip (fail in CI) unless both PostgreSQL and Redis are reachable."""
    services.require_postgres()
    services.require_redis()


class Cluster:
    def __init__(self, root: Path, database_url: str, prefix: str, extra_env: dict[str, str]) -> None:
        self.root, self.database_url, self.prefix = root, database_url, prefix
        self.env = {"CONFAB_DATABASE_URL": database_url, "CONFAB_BROKER_BACKEND": "redis",
                    "CONFAB_BROKER_REDIS_URL": REDIS_URL, "CONFAB_BROKER_REDIS_PREFIX": prefix,
                    "CONFAB_FILES_BACKEND": "postgresql", **extra_env}  # each instance has a data dir of its own
        self.instances: list[ServerProcess] = []

    def start(self, name: str | None = None) -> ServerProcess:
        """Start one more instance (its own data dir, for its secrets it shares with the others)."""
        name = name or f"i{len(self.instances)}"
        instance = ServerProcess(self.root / name, env=self.env)
        self.instances.append(instance)
        instance.wait_ready(timeout=30)
        return instance

    def stop(self) -> None:
        for instance in self.instances:
            instance.stop()


@contextmanager
def cluster(root: Path, size: int = 2, **extra_env: str) -> Iterator[Cluster]:
    """``size`` instances on a new database and a new Redis prefix, removed afterwards."""
    database = "confab_cluster_" + uuid.uuid4().hex[:10]
    prefix = "confabtest-" + uuid.uuid4().hex[:8]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    running = Cluster(root, f"{POSTGRES_URL.rsplit('/', 1)[0]}/{database}", prefix,
                      {"CONFAB_AUTH_JWT_SECRET": uuid.uuid4().hex * 2, **extra_env})
    try:
        for _ in range(size):
            running.start()
        yield running
    finally:
        running.stop()
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
