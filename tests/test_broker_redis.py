"""The Redis Streams backend against the real local Redis: the same contract as the in-process broker,
plus what several instances need: each command processed once, every instance's own group sees all,
and a dead instance's pending entries are taken over when its lease expires."""
import os
import threading
import time
import uuid
from contextlib import contextmanager

import pytest
import redis

from actors.broker import redis_streams
from actors.broker.redis_streams import BrokerUnavailable, RedisBroker, to_offset
from actors.supervisor import Supervisor
from domain.broker import partition_for
from domain.config import build_config
from domain.errors import Unavailable
from domain.metrics import NullMetrics
from tests import services
from tests.waiting import wait_for

REDIS_URL = os.environ.get("CONFAB_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _reachable() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


services.require("Redis", REDIS_URL, _reachable)


@pytest.fixture
def prefix():
    name = "confabtest-" + uuid.uuid4().hex[:8]
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{name}:*"))
    if keys:
        client.delete(*keys)


@contextmanager
def instance(prefix, topics="t:2", **broker):
    """One server instance's broker: its own supervisor, sharing Redis with the others."""
    config = build_config({"broker": {"backend": "redis", "redis_url": REDIS_URL, "topics": topics,
                                      "publish_timeout_s": "0.5", **broker}})
    supervisor = Supervisor.start(watch_interval_s=0.05)
    started = RedisBroker(supervisor, config, NullMetrics(), prefix=prefix)
    try:
        for name, partitions in config.topic_partitions().items():
            started.create_topic(name, partitions)
        yield started
    finally:
        started.close(timeout_s=3)
        supervisor.stop()


def test_offsets_keep_stream_ids_whole_and_in_order():
    assert to_offset(b"1700000000123-7") == (1700000000123 << 20) | 7  # ms and seq both recoverable
    assert to_offset("5-0") < to_offset("5-1") < to_offset("6-0")


def test_in_order_delivery_per_partition_with_partition_and_offset(prefix):
    seen = []
    with instance(prefix) as broker:
        broker.subscribe("t", "g", seen.append)
        published = [broker.publish("t", f"key-{i % 5}", str(i).encode()) for i in range(200)]
        wait_for(lambda: len(seen) == 200, timeout=10)
    for record in seen:
        assert record.partition == partition_for(record.key, 2)
    assert [(r.partition, r.offset) for r in seen if r.partition == 0] == sorted(p for p in published if p[0] == 0)
    for key in {r.key for r in seen}:
        values = [int(r.value) for r in seen if r.key == key]
        assert values == sorted(values)


def test_two_instances_share_a_group_once_and_each_own_group_sees_everything(prefix):
    commands, fanout_a, fanout_b = [], [], []
    with instance(prefix) as a, instance(prefix) as b:
        a.subscribe("t", "commands", commands.append)
        b.subscribe("t", "commands", commands.append)
        a.subscribe("t", "fanout-a", fanout_a.append)
        b.subscribe("t", "fanout-b", fanout_b.append)
        for i in range(100):
            (a if i % 2 else b).publish("t", f"k{i}", str(i).encode())
        wait_for(lambda: len(commands) >= 100 and len(fanout_a) == 100 and len(fanout_b) == 100, timeout=10)
        time.sleep(0.3)
    assert sorted(int(r.value) for r in commands) == list(range(100))  # once each, none twice
    assert sorted(int(r.value) for r in fanout_a) == sorted(int(r.value) for r in fanout_b) == list(range(100))


def test_a_dead_instances_pending_entries_are_taken_over(prefix, monkeypatch):
    monkeypatch.setattr(redis_streams, "LEASE_MS", 600)
    gate = threading.Event()
    survivor_seen = []

    def stuck(record):  # the first instance reads entries and dies before acknowledging them
        gate.wait()
        raise RuntimeError("instance died")

    with instance(prefix, topics="t:1") as doomed:
        doomed.subscribe("t", "commands", stuck)
        for i in range(5):
            doomed.publish("t", "k", str(i).encode())
        time.sleep(0.5)
        # simulate a SIGKILL: its delivery greenlets vanish without releasing the lease or acking
        actor = doomed._actors[("t", 0)]
        monkeypatch.setattr(redis_streams.Lease, "release", lambda lease: None)
        with instance(prefix, topics="t:1") as survivor:
            survivor.subscribe("t", "commands", survivor_seen.append)
            actor.ref.stop()  # on_stop kills the greenlets; the lease is not released, it expires
            wait_for(lambda: len(survivor_seen) == 5, timeout=15)
        gate.set()
    assert [int(r.value) for r in survivor_seen] == [0, 1, 2, 3, 4]


def test_restart_resumes_after_the_last_acknowledged_entry(prefix):
    first, second = [], []
    with instance(prefix, topics="t:1") as broker:
        broker.subscribe("t", "g", first.append)
        for i in range(10):
            broker.publish("t", "k", str(i).encode())
        wait_for(lambda: len(first) == 10, timeout=10)
    with instance(prefix, topics="t:1") as broker:
        broker.publish("t", "k", b"10")
        broker.subscribe("t", "g", second.append)
        wait_for(lambda: len(second) == 1, timeout=10)
        time.sleep(0.3)
    assert [int(r.value) for r in second] == [10]


def test_a_failing_handler_is_retried_not_skipped(prefix):
    attempts, done = [], []

    def flaky(record):
        attempts.append(record.offset)
        if len(attempts) < 3:
            raise ValueError("not yet")
        done.append(record.value)

    with instance(prefix, topics="t:1") as broker:
        broker.subscribe("t", "g", flaky)
        broker.publish("t", "k", b"x")
        broker.publish("t", "k", b"y")
        wait_for(lambda: done == [b"x", b"y"], timeout=10)
    assert attempts[0] == attempts[1] == attempts[2]


def test_a_lagging_group_makes_publish_fail_with_unavailable(prefix):
    block = threading.Event()
    with instance(prefix, topics="t:1", queue_size="5") as broker:
        broker.subscribe("t", "slow", lambda record: block.wait())
        for i in range(5):
            broker.publish("t", "k", b"x")
        started = time.monotonic()
        with pytest.raises(Unavailable):
            broker.publish("t", "k", b"x")
        assert time.monotonic() - started >= 0.45  # it waited for room up to publish_timeout_s
        block.set()


def test_unreachable_redis_is_one_clear_error():
    config = build_config({"broker": {"backend": "redis", "redis_url": "redis://127.0.0.1:1/0"}})
    supervisor = Supervisor.start()
    try:
        with pytest.raises(BrokerUnavailable, match="^broker: cannot reach Redis at redis://127.0.0.1:1/0"):
            RedisBroker(supervisor, config, NullMetrics())
    finally:
        supervisor.stop()


def test_instances_register_and_a_singleton_job_moves_when_its_holder_dies(prefix, monkeypatch):
    from actors import cluster
    from actors.supervisor import health, stop_supervision

    monkeypatch.setattr(cluster, "INSTANCE_TTL_MS", 900)
    monkeypatch.setattr(cluster, "HEARTBEAT_S", 0.1)
    client = redis.Redis.from_url(REDIS_URL)
    runs = {"a": 0, "b": 0}

    def job(name):
        def run():
            runs[name] += 1
        return cluster.SingletonJob("demo", 0.05, run)

    supervisors = {name: Supervisor.start(watch_interval_s=0.05) for name in ("a", "b")}
    handles = {name: cluster.start_cluster(sup, client, prefix, name, [job(name)]) for name, sup in supervisors.items()}
    try:
        wait_for(lambda: health(supervisors["b"])["components"]["cluster"].get("instances") == ["a", "b"], timeout=10)
        wait_for(lambda: runs["a"] + runs["b"] > 2, timeout=10)
        holder, other = ("a", "b") if runs["a"] else ("b", "a")
        assert runs[other] == 0  # only the lease holder runs it
        monkeypatch.setattr(cluster.Lease, "release", lambda lease: None)  # a SIGKILL releases nothing...
        monkeypatch.setattr(cluster.ClusterActor, "on_stop", lambda self: self._timer.cancel())  # ...and says nothing
        supervisors[holder].stop()  # first, so nothing restarts the holder
        handles[holder].ref.stop()
        wait_for(lambda: runs[other] > 0, timeout=5)  # the job moved within the lease's life
        wait_for(lambda: health(supervisors[other])["components"]["cluster"].get("instances") == [other], timeout=5)
        assert health(supervisors[other])["components"]["cluster"]["singleton_jobs"] == ["demo"]
    finally:
        for supervisor in supervisors.values():
            if supervisor.is_alive():
                stop_supervision(supervisor)
