"""Local services the tests talk to (PostgreSQL, Redis): required in CI, skipped with a reason elsewhere."""
import os
import uuid
from contextlib import contextmanager
from typing import Callable, Iterator

import psycopg
import pytest
import redis

POSTGRES_URL = os.environ.get("CONFAB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CONFAB_TEST_REDIS", "redis://127.0.0.1:6379/0")


def require(name: str, url: str, reachable: Callable[[], bool]) -> None:
    """Skip the calling test module when ``name`` is not reachable at ``url`` — or fail outright in CI."""
    if reachable():
        return
    if os.environ.get("CI"):
        raise RuntimeError(f"{name} is required in CI and is not reachable at {url}")
    pytest.skip(f"{name} not reachable at {url}", allow_module_level=True)


def _postgres_up() -> bool:
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
        return True
    except psycopg.OperationalError:
        return False


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def require_postgres() -> None:
    require("PostgreSQL", POSTGRES_URL, _postgres_up)


def require_redis() -> None:
    require("Redis", REDIS_URL, _redis_up)


@contextmanager
def scratch_database(prefix: str = "confab") -> Iterator[str]:
    """A fresh PostgreSQL database for one test module (skipped without PostgreSQL); yields its URL."""
    require_postgres()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
