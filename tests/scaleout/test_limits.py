"""Limits cluster-wide: with ``broker.backend = redis`` the per-user, per-IP and chat send buckets live in
Redis, so a caller spreading requests over two real instances gets one limit, not two; when Redis does
not answer the instance limits with its own buckets meanwhile, and says so."""
from __future__ import annotations

import time
from itertools import cycle

import pytest
import requests

from storage.redis_ratelimit import RETRY_S, SharedLimits
from tests.support.cluster import cluster, require_cluster_services
from tests.support.harness import register
from tests.support.private_services import PrivateRedis
from tests.support.chat_helpers import Api, new_room
from tests.support.waiting import wait_for

require_cluster_services()

SLOW = "0.001"  # refill per second: the counts below stay exact however slow the machine is
LIMITS = {"CONFAB_RATE_LIMIT_USER_RATE_PER_S": SLOW, "CONFAB_RATE_LIMIT_USER_BURST": "12",
          "CONFAB_RATE_LIMIT_IP_RATE_PER_S": SLOW, "CONFAB_RATE_LIMIT_IP_BURST": "1000",
          "CONFAB_CHAT_SEND_RATE": "4", "CONFAB_CHAT_SEND_WINDOW_S": "4000",
          "CONFAB_SERVER_TRUSTED_PROXIES": "127.0.0.1"}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    with cluster(tmp_path_factory.mktemp("limits"), size=2, **LIMITS) as started:
        yield started.instances


def allowed(statuses: list[int]) -> int:
    assert set(statuses) <= {200, 201, 429}, statuses
    return statuses.count(200) + statuses.count(201)


def test_a_user_on_two_instances_gets_one_limit(pair):
    login = register(pair[0].base)
    apis = cycle([Api(instance.base, login) for instance in pair])
    statuses = [next(apis).get("/rooms").status_code for _ in range(30)]
    assert allowed(statuses) == 12 and statuses[-1] == 429
    health = requests.get(f"{pair[1].base}/health", timeout=5).json()["components"]["limits"]
    assert health["status"] == "ok" and health["buckets"] == "redis"


def test_an_address_on_two_instances_gets_one_limit(pair):
    bases = cycle(instance.base for instance in pair)
    statuses = [requests.get(f"{next(bases)}/health", headers={"X-Forwarded-For": "203.0.113.9"},
                             timeout=5).status_code for _ in range(1100)]
    assert allowed(statuses) == 1000
    assert requests.get(f"{pair[0].base}/health", headers={"X-Forwarded-For": "203.0.113.10"}).status_code == 200


def test_chat_sends_through_two_instances_share_one_budget(pair):
    login = register(pair[0].base)
    room = new_room(Api(pair[0].base, login))
    apis = cycle([Api(instance.base, login) for instance in pair])
    statuses = [next(apis).post(f"/rooms/{room}/messages", json={"content": f"m{i}"}).status_code for i in range(8)]
    assert allowed(statuses) == 4 and statuses[4:] == [429] * 4


def test_limits_fall_back_to_local_buckets_while_redis_is_unreachable():
    server = PrivateRedis()
    server.start()
    try:
        limits = SharedLimits.connect(server.url, "limits-test")
        first, second = limits.limiter("t", 0.001, 3), limits.limiter("t", 0.001, 3)  # two instances' views
        assert [first.check("k"), second.check("k"), first.check("k")] == [0, 0, 0]
        assert second.check("k") > 0 and second.wait("k") > 0
        server.stop()
        started = time.monotonic()
        assert first.check("k") == 0  # its own bucket: full
        assert time.monotonic() - started < 1.0
        assert limits.status()["status"] == "degraded" and limits.status()["buckets"].startswith("local")
        assert [first.check("k") for _ in range(3)][-1] > 0  # still limited meanwhile, by the instance alone
        server.start()  # empty: the shared buckets start full again
        time.sleep(RETRY_S)
        wait_for(lambda: first.check("other") == 0 and limits.status()["status"] == "ok", timeout=5, interval=0.1)
        assert limits.status() == {"status": "ok", "buckets": "redis"}
    finally:
        server.close()
