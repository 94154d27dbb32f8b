"""The Redis Streams backend against the real local Redis: the same contract as the in-process broker,
plus what several instances need: each command processed once, its partitions spread over the
instances, every instance's own group sees all from when it subscribed and goes with it, and a dead
instance's partitions, pending entries and groups are taken over or reaped.

"Another instance" is either a second broker in this process or, where it must die like a real one,
a subprocess (``MEMBER``) killed with SIGKILL; both record what they handle in one Redis list, so the
order in which records were processed across instances can be checked."""
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import gevent
import pytest
import redis

from actors import cluster
from actors.broker import instance_groups, redis_partition, redis_streams, start_broker
from actors.broker.redis_streams import BrokerUnavailable, RedisBroker, to_offset
from actors.supervisor import Supervisor, stop_supervision
from domain.broker import partition_for
from domain.config import build_config
from domain.errors import Unavailable
from domain.metrics import NullMetrics
from tests.support import services
from tests.support.recording_metrics import RecordingMetrics
from tests.support.waiting import wait_for

REDIS_URL = os.environ.get("CONFAB_TEST_REDIS", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parents[2]
FAST_CLUSTER = {"HEARTBEAT_S": 0.2, "INSTANCE_TTL_MS": 1000}  # an instance leaves the registry within 1 s


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


@pytest.fixture
def fast_cluster(monkeypatch):
    for name, value in FAST_CLUSTER.items():
        monkeypatch.setattr(cluster, name, value)


def broker_settings(prefix, topics, **broker):
    return {"backend": "redis", "redis_url": REDIS_URL, "redis_prefix": prefix, "topics": topics,
            "publish_timeout_s": "0.5", **broker}


@contextmanager
def instance(prefix, topics="t:2", metrics=None, **broker):
    """One server instance's broker as the bootstrap starts it (with the cluster registry and the
    broker's singleton jobs): its own supervisor, sharing Redis with the others."""
    config = build_config({"broker": broker_settings(prefix, topics, **broker)})
    supervisor = Supervisor.start(watch_interval_s=0.05)
    started = None
    try:
        messaging = start_broker(supervisor, config, metrics or NullMetrics())
        started = messaging.broker
        cluster.start_cluster(supervisor, messaging.shared, started.instance_id, messaging.jobs)
        yield started
    finally:
        if started is not None:
            started.close(timeout_s=3)
        stop_supervision(supervisor)


MEMBER = r"""
from gevent import monkey; monkey.patch_all()
import json, sys, time
import redis
from actors import cluster
from actors.broker import instance_groups, start_broker
from actors.supervisor import Supervisor
from domain.config import build_config
from domain.metrics import NullMetrics

settings = json.loads(sys.argv[1])
for name, value in settings["cluster"].items():
    setattr(cluster, name, value)
instance_groups.REAP_EVERY_S = settings["reap_every_s"]
supervisor = Supervisor.start()
messaging = start_broker(supervisor, build_config({"broker": settings["broker"]}), NullMetrics())
broker = messaging.broker
cluster.start_cluster(supervisor, messaging.shared, broker.instance_id, messaging.jobs)
seen = redis.Redis.from_url(settings["broker"]["redis_url"])

def handle(record):
    time.sleep(0.001)
    seen.rpush(settings["seen"], f"{broker.instance_id} {record.partition} {record.key} {int(record.value)}")

for group, each_instance in settings["groups"]:
    broker.subscribe("t", group, handle, each_instance=each_instance)
print(broker.instance_id, flush=True)
while True:
    time.sleep(1)
"""


class Member:
    """Another instance in its own process, consuming ``groups`` of topic ``t`` into the list ``seen``."""

    def __init__(self, prefix, topics, groups, seen, log_path):
        settings = {"broker": broker_settings(prefix, topics), "groups": groups, "seen": seen,
                    "cluster": FAST_CLUSTER, "reap_every_s": instance_groups.REAP_EVERY_S}
        with open(log_path, "w") as log:
            self.process = subprocess.Popen([sys.executable, "-c", MEMBER, json.dumps(settings)], cwd=ROOT,
                                            stdout=subprocess.PIPE, stderr=log,
                                            env={**os.environ, "CONFAB_STATSD_ENABLED": "false"})
        with gevent.Timeout(60):
            self.instance_id = self.process.stdout.readline().decode().strip()
        assert self.instance_id.startswith("instance-"), log_path.read_text()

    def kill(self):
        """SIGKILL: no lease released, no group destroyed, the registry entry left to expire."""
        self.process.kill()
        self.process.wait()


@contextmanager
def member(*args):
    started = Member(*args)
    try:
        yield started
    finally:
        started.kill()


def recorder(broker, seen):
    """The handler ``MEMBER`` uses, for an instance in this process."""
    client = redis.Redis.from_url(REDIS_URL)

    def handle(record):
        time.sleep(0.001)
        client.rpush(seen, f"{broker.instance_id} {record.partition} {record.key} {int(record.value)}")
    return handle


def handled(seen, start=0):
    """``(instance, partition, key, value)`` in the order the instances handled them."""
    rows = redis.Redis.from_url(REDIS_URL).lrange(seen, start, -1)
    return [(i, int(p), k, int(v)) for i, p, k, v in (row.decode().split() for row in rows)]


def group_names(stream):
    """The groups of ``stream`` with their lag."""
    try:
        groups = redis.Redis.from_url(REDIS_URL).xinfo_groups(stream)
    except redis.ResponseError:  # no stream
        return {}
    return {g["name"].decode(): instance_groups.lag_of(g) for g in groups}


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


def test_lag_gauges_name_groups_as_subscribed_never_an_instance_id(prefix, monkeypatch):
    """A restart must not start new series: an instance reports its own group under its plain name, and
    the shared group; never another instance's group."""
    monkeypatch.setattr(redis_partition, "TICK_S", 0.05)
    metrics_a, metrics_b = RecordingMetrics(), RecordingMetrics()
    gate = threading.Event()
    with instance(prefix, "chat.events:2", metrics_a) as a, instance(prefix, "chat.events:2", metrics_b) as b:
        for broker in (a, b):
            broker.subscribe("chat.events", "chat.writer", lambda record: gate.wait(5))
            broker.subscribe("chat.events", "chat.fanout", lambda record: None, each_instance=True)
        for i in range(20):
            a.publish("chat.events", f"k{i}", b"x")
        expected = {f"broker.lag.chat_events.{p}.{group}" for p in range(2) for group in ("chat_writer", "chat_fanout")}
        wait_for(lambda: expected <= set(metrics_a.gauges) and expected <= set(metrics_b.gauges), timeout=10)
        wait_for(lambda: sum(metrics_a.gauges[f"broker.lag.chat_events.{p}.chat_writer"] for p in range(2)) > 0,
                 timeout=10)
        gate.set()
        wait_for(lambda: all(metrics_a.gauges[name] == 0 for name in expected), timeout=10)
    for metrics in (metrics_a, metrics_b):
        assert set(metrics.gauges) == expected, metrics.gauges


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
    shared = cluster.SharedRedis(client, prefix)
    handles = {name: cluster.start_cluster(sup, shared, name, [job(name)]) for name, sup in supervisors.items()}
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


# --- groups of one instance (each_instance) ---------------------------------------------------------------

def test_an_each_instance_group_starts_at_the_end_and_goes_with_its_instance(prefix):
    seen = []
    with instance(prefix) as early:
        for i in range(6):
            early.publish("t", f"k{i}", b"before")
        with instance(prefix) as late:
            late.subscribe("t", "fanout", seen.append, each_instance=True)
            with pytest.raises(ValueError):
                late.subscribe("t", "fanout", seen.append, each_instance=True)
            group = f"fanout.{late.instance_id}"
            streams = [late.stream_key("t", index) for index in range(2)]
            assert all(group in group_names(stream) for stream in streams)
            for i in range(6):
                early.publish("t", f"k{i}", b"after")
            wait_for(lambda: len(seen) >= 6, timeout=10)
            assert [r.value for r in seen] == [b"after"] * 6  # history first, had it started at "0"
        assert not any(group in group_names(stream) for stream in streams)  # destroyed by close()
        assert all(group_names(stream) == {} for stream in streams)


def test_a_killed_instances_group_is_reaped_and_publishes_do_not_wait_for_it(prefix, fast_cluster, monkeypatch,
                                                                           tmp_path):
    monkeypatch.setattr(instance_groups, "REAP_EVERY_S", 3600.0)  # the job runs at start; the test runs it again
    client = redis.Redis.from_url(REDIS_URL)
    with instance(prefix, topics="t:1", queue_size="5", publish_timeout_s="2") as here:
        stream = here.stream_key("t", 0)
        with member(prefix, "t:1", [["fanout", True]], f"{prefix}:seen", tmp_path / "member.log") as there:
            group = f"fanout.{there.instance_id}"
            wait_for(lambda: group in group_names(stream), timeout=10)
            here.reaper.run()
            here.reaper.run()
            assert group in group_names(stream)  # a live instance's group is never reaped
            there.kill()
            wait_for(lambda: not client.exists(f"{prefix}:instance:{there.instance_id}"), timeout=10)
            for i in range(20):  # four times queue_size past a group nobody will read again
                here.publish("t", "k", str(i).encode())
            assert group_names(stream)[group] == 20  # still there, unread: lag ignores a dead instance's group
            here.reaper.run()
            assert group in group_names(stream)  # missing from the registry once: a suspect
            here.reaper.run()
            assert group not in group_names(stream)  # twice in a row: destroyed
    assert handled(f"{prefix}:seen") == []


# --- partitions of a shared group spread over the instances ------------------------------------------------

class Publisher(threading.Thread):
    """A steady stream of records on ``keys``, each key's values counting up from 0."""

    def __init__(self, broker, keys):
        super().__init__(daemon=True)
        self.broker, self.sent, self.halt = broker, dict.fromkeys(keys, 0), threading.Event()

    def run(self):
        while not self.halt.is_set():
            for key in self.sent:
                self.broker.publish("t", key, str(self.sent[key]).encode())
                self.sent[key] += 1
                time.sleep(0.003)


def holders(rows):
    """partition → the instance that handled its latest record."""
    return {partition: who for who, partition, _key, _value in rows}


def test_a_shared_groups_partitions_spread_over_instances_and_a_survivor_takes_all(prefix, fast_cluster, tmp_path):
    seen = f"{prefix}:seen"
    keys = [f"k{i}" for i in range(12)]
    assert {partition_for(key, 4) for key in keys} == {0, 1, 2, 3}
    with instance(prefix, topics="t:4", publish_timeout_s="5") as here:
        here.subscribe("t", "work", recorder(here, seen))
        publisher = Publisher(here, keys)
        publisher.start()
        wait_for(lambda: len(set(holders(handled(seen)))) == 4, timeout=10)  # alone: all four partitions
        with member(prefix, "t:4", [["work", False]], seen, tmp_path / "member.log") as there:
            mark = len(handled(seen))

            def split_two_and_two():
                latest = holders(handled(seen, mark))
                return len(latest) == 4 and sorted(latest.values()) == sorted([here.instance_id] * 2
                                                                             + [there.instance_id] * 2)
            wait_for(split_two_and_two, timeout=30)
            before_kill = handled(seen)
            there.kill()
            kill_mark = len(handled(seen))  # whatever the killed instance handled is in the list by now
            wait_for(lambda: set(holders(handled(seen, kill_mark)).values()) == {here.instance_id}
                     and len(holders(handled(seen, kill_mark))) == 4, timeout=30)
        publisher.halt.set()
        publisher.join(10)
        sent = {(key, value) for key, count in publisher.sent.items() for value in range(count)}
        wait_for(lambda: {(k, v) for _w, _p, k, v in handled(seen)} >= sent, timeout=20)
    rows = handled(seen)
    assert {(k, v) for _w, _p, k, v in rows} == sent
    assert {who for who, *_ in before_kill} == {here.instance_id, there.instance_id}
    firsts = {}
    for position, (who, _p, key, value) in enumerate(rows):
        if (key, value) in firsts:  # at-least-once: only what the killed instance had not acknowledged
            first_who, first_position = firsts[(key, value)]
            assert (first_who, who) == (there.instance_id, here.instance_id), (key, value)
            assert first_position < kill_mark <= position
        firsts.setdefault((key, value), (who, position))
    assert len(rows) - len(firsts) <= 4  # one record in hand per partition of the killed instance at most
    for key in keys:  # per-key order, across the handoffs and the takeover
        values = [v for _w, _p, k, v in rows if k == key]
        assert values == sorted(values)
