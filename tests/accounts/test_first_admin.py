"""The first account registered administers the server (issue 16): of several registrations racing on
an empty server, over real HTTP, exactly one becomes the admin, on both engines.

On SQLite a unit of work holds the one write lock, so registrations never overlap. On PostgreSQL two
transactions could both find no user and both insert an admin: the test makes that certain instead of
rare by holding a SHARE lock on the user table, which lets every racer read the empty table but makes
its insert wait, and lets go only once all of them wait (on the table or on the admins' lock)."""
from __future__ import annotations

import time
import uuid
from contextlib import contextmanager
from typing import Any, Callable, ContextManager, Iterator

import gevent
import psycopg
import pytest
import requests

from tests.conftest import ENGINES
from tests.support.chat_helpers import Api
from tests.support.harness import Server

RACERS = 8


@pytest.mark.parametrize("engine", ENGINES)
def test_of_simultaneous_first_registrations_exactly_one_becomes_admin(
        make_server: Callable[..., ContextManager[Server]], engine: str) -> None:
    with make_server(engine, "first-admin") as fresh:
        with _inserts_held(fresh, engine, RACERS):
            racers = [gevent.spawn(_register, fresh.base) for _ in range(RACERS)]
        gevent.joinall(racers, timeout=60, raise_error=True)
        bodies = [racer.value for racer in racers]
        assert [body["is_server_admin"] for body in bodies].count(True) == 1
        admin = next(body for body in bodies if body["is_server_admin"])
        login = requests.post(f"{fresh.base}/api/v1/auth/login",
                              json={"username": admin["username"], "password": "correct horse"}).json()
        listed = Api(fresh.base, login).get("/admin/users", params={"limit": 100}).json()["items"]
        assert len(listed) == RACERS and [u["id"] for u in listed if u["is_server_admin"]] == [admin["id"]]


@contextmanager
def _inserts_held(server: Server, engine: str, waiters: int) -> Iterator[None]:
    """PostgreSQL: inserts into the user table wait until ``waiters`` transactions wait for a lock."""
    if engine == "sqlite":
        yield
        return
    with psycopg.connect(server.confab.services.config.database.url) as holder:
        holder.execute('LOCK TABLE "user" IN SHARE MODE')
        yield
        deadline = time.monotonic() + 30
        while _waiting(server) < waiters:
            assert time.monotonic() < deadline, f"only {_waiting(server)} of {waiters} registrations got to wait"
            gevent.sleep(0.05)
        holder.commit()


def _waiting(server: Server) -> int:
    with psycopg.connect(server.confab.services.config.database.url) as probe:
        return probe.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()[0]


def _register(base: str) -> dict[str, Any]:
    name = "r" + uuid.uuid4().hex[:10]
    response = requests.post(f"{base}/api/v1/auth/register",
                             json={"username": name, "email": f"{name}@example.com", "password": "correct horse"})
    assert response.status_code == 201, response.text
    return response.json()
