"""The in-process broker with the log off: ordering, commits, retries, backpressure, supervision, metrics."""
import logging
import tempfile
import threading
import time
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

import pykka
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors import runtime
from actors.broker import actor as broker_actor
from actors.broker import start_broker
from actors.supervisor import StopChildren, Supervisor, health
from domain import logs
from domain.broker import partition_for
from domain.config import AppConfig, BrokerConfig, ServerConfig
from domain.errors import Unavailable
from domain.metrics import NullMetrics
from tests.support.recording_metrics import RecordingMetrics
from tests.support.waiting import wait_for


ROOT_DIR = Path(__file__).resolve().parents[2]


@contextmanager
def running_broker(data_dir: Path, metrics=None, **broker):
    """A supervisor and a broker over ``data_dir``; closed (drained, synced) on exit."""
    broker.setdefault("topics", "t:1")
    supervisor = Supervisor.start(watch_interval_s=0.05, max_restarts=5, restart_window_s=60)
    config = AppConfig(server=ServerConfig(data_dir=str(data_dir)), broker=BrokerConfig(**broker))
    started = None
    try:
        started = start_broker(supervisor, config, metrics or NullMetrics()).broker
        started.supervisor = supervisor
        yield started
    finally:
        if started is not None:
            started.close(timeout_s=1.0)
        supervisor.stop()


@pytest.fixture
def make_broker(tmp_path):
    """Start brokers over one data folder; a second start over the same folder is a restart."""
    stack = []

    def make(**broker):
        manager = running_broker(tmp_path, **broker)
        stack.append(manager)
        return manager.__enter__()

    yield make
    for manager in reversed(stack):
        manager.__exit__(None, None, None)
    pykka.ActorRegistry.stop_all()


class Collector:
    def __init__(self):
        self.records = []

    def __call__(self, record):
        self.records.append(record)

    def offsets(self, partition=0):
        return [r.offset for r in self.records if r.partition == partition]


def test_partition_of_a_key_is_stable_across_processes():
    assert [partition_for(k, 8) for k in ("room-1", "room-2", "doc-42", "")] == [6, 4, 2, 0]  # crc32, pinned
    spread = {partition_for(f"room-{i}", 8) for i in range(200)}
    assert spread == set(range(8))


def test_records_are_delivered_in_order_and_committed_after_the_handler(make_broker):
    broker = make_broker(topics="t:2")
    got = Collector()
    acks = [broker.publish("t", f"k{i % 5}", b"v%d" % i) for i in range(40)]
    broker.subscribe("t", "g", got)  # a new group starts at the oldest record the partition holds
    wait_for(lambda: len(got.records) == 40)
    for partition in (0, 1):
        assert got.offsets(partition) == sorted(o for p, o in acks if p == partition)
    assert {(r.partition, r.offset): r.value for r in got.records} == {a: b"v%d" % i for i, a in enumerate(acks)}
    assert all(r.partition == partition_for(r.key, 2) and r.topic == "t" and r.timestamp > 0 for r in got.records)
    assert [g.cursor for p in broker.partitions("t") for g in p.groups.values()] == [p.head for p in broker.partitions("t")]


def test_unknown_topic_and_second_subscription_of_a_group_are_refused(make_broker):
    broker = make_broker()
    with pytest.raises(ValueError):
        broker.publish("nope", "k", b"x")
    broker.subscribe("t", "g", Collector())
    with pytest.raises(ValueError):
        broker.subscribe("t", "g", Collector())
    broker.create_topic("t", 1)
    for name, partitions in (("t", 3), ("..", 1), ("a/b", 1), ("u", 0)):
        with pytest.raises(ValueError):
            broker.create_topic(name, partitions)


def test_each_instance_keeps_the_plain_group_in_process(make_broker):
    broker = make_broker()
    assert broker.instance_id == "local"
    broker.publish("t", "k", b"held")
    got = Collector()
    broker.subscribe("t", "g", got, each_instance=True)  # the only instance: the group is "g" itself
    wait_for(lambda: [r.value for r in got.records] == [b"held"])  # from the oldest record held, as any group
    assert list(broker.partitions("t")[0].groups) == ["g"]
    with pytest.raises(ValueError):
        broker.subscribe("t", "g", Collector())


def test_a_failing_handler_is_retried_with_backoff_and_never_skipped(make_broker, caplog):
    broker = make_broker()
    calls = []

    def flaky(record):
        calls.append(record.offset)
        if record.offset == 1 and calls.count(1) < 3:
            raise RuntimeError("storage down")

    broker.subscribe("t", "g", flaky)
    started = time.monotonic()
    for i in range(3):
        broker.publish("t", "k", b"%d" % i)
    wait_for(lambda: calls[-1:] == [2])
    assert calls == [0, 1, 1, 1, 2]
    assert time.monotonic() - started >= broker_actor.RETRY_FIRST_S * 3  # 0.05 s, then 0.1 s
    failures = [r for r in caplog.records if r.getMessage() == "broker.handler_failed"]
    assert [(r.fields["offset"], r.fields["attempt"]) for r in failures] == [(1, 1), (1, 2)]
    assert failures[0].fields["topic"] == "t" and failures[0].fields["group"] == "g"


LOG_SETTINGS = {"off": {"log": "off"},
                "on": {"log": "on", "fsync": "batch", "fsync_batch_records": 4, "fsync_batch_ms": 1}}


@pytest.mark.parametrize("log", ["off", "on"])
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["a", "b", "c", "d", "e"])), min_size=1,
                     max_size=80),
       partitions=st.integers(1, 4), queue_size=st.integers(1, 16), yields=st.sets(st.integers(0, 79)))
def test_order_per_key_holds_under_concurrent_producers(tmp_path, log, plan, partitions, queue_size, yields):
    got = Collector()
    acks = {}

    def consume(record):
        assert logs.current()["offset"] == record.offset and logs.current()["group"] == "g"
        if record.offset % 3 == 0:
            runtime.sleep(0)  # a handler that yields lets producers run between deliveries
        got(record)

    def produce(producer, jobs):
        for seq, (step, key) in enumerate(jobs):
            acks[(producer, seq)] = (key, broker.publish("t", key, f"{producer}:{seq}".encode()))
            if step in yields:
                runtime.sleep(0)

    with running_broker(Path(tempfile.mkdtemp(dir=tmp_path)), topics=f"t:{partitions}", queue_size=queue_size,
                        publish_timeout_s=5, **LOG_SETTINGS[log]) as broker:
        broker.subscribe("t", "g", consume)
        jobs = {p: [(i, key) for i, (q, key) in enumerate(plan) if q == p] for p in range(4)}
        for greenlet in [runtime.spawn(produce, p, jobs[p]) for p in range(4)]:
            greenlet.join()
        wait_for(lambda: len(got.records) == len(plan))
    delivered = [(r.key, r.partition, r.offset, r.value.decode()) for r in got.records]
    assert sorted(delivered) == sorted((k, p, o, f"{pr}:{s}") for (pr, s), (k, (p, o)) in acks.items())
    for partition in range(partitions):
        offsets = got.offsets(partition)
        assert offsets == sorted(offsets) == list(range(len(offsets)))  # in order, nothing lost, no duplicate
    for key in "abcde":
        by_producer = {}
        for record in (r for r in got.records if r.key == key):
            producer, seq = map(int, record.value.split(b":"))
            by_producer.setdefault(producer, []).append(seq)
        assert all(seqs == sorted(seqs) for seqs in by_producer.values())


def test_a_slow_group_makes_publish_fail_after_the_timeout(make_broker):
    broker = make_broker(queue_size=8, publish_timeout_s=0.2)
    release, got = threading.Event(), Collector()
    broker.subscribe("t", "fast", Collector())
    broker.subscribe("t", "slow", lambda record: (release.wait(), got(record)))
    for i in range(8):
        broker.publish("t", "k", b"%d" % i)
    started = time.monotonic()
    with pytest.raises(Unavailable) as failure:
        broker.publish("t", "k", b"late")
    assert 0.2 <= time.monotonic() - started < 2.0 and failure.value.code == "UNAVAILABLE"
    release.set()
    wait_for(lambda: len(got.records) == 8)
    assert broker.publish("t", "k", b"room again") == (0, 8)
    wait_for(lambda: len(got.records) == 9)
    assert got.offsets() == list(range(9))


def test_memory_stays_bounded_while_a_group_is_stuck(make_broker, caplog):
    caplog.set_level(logging.ERROR, logger="confab.broker")  # pytest would keep 2000 timeout lines
    broker = make_broker(queue_size=16, publish_timeout_s=0)
    release = threading.Event()
    broker.subscribe("t", "stuck", lambda record: release.wait())
    payload = b"x" * 65536
    refused = 0
    tracemalloc.start()
    try:
        for _ in range(16):
            broker.publish("t", "k", payload)
        before = tracemalloc.take_snapshot()
        for _ in range(2000):  # 128 MB if the broker kept them
            try:
                broker.publish("t", "k", payload)
            except Unavailable:
                refused += 1
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
        release.set()
    mine = [tracemalloc.Filter(True, "*/actors/broker/*"), tracemalloc.Filter(True, "*/domain/broker.py")]
    grown = sum(s.size_diff for s in after.filter_traces(mine).compare_to(before.filter_traces(mine), "filename"))
    (partition,) = broker.partitions("t")
    assert refused == 2000 and grown < 100_000
    assert partition.head == 16 and len(partition._ring) == 16


@pytest.mark.parametrize("log", ["off", "on"])
@pytest.mark.parametrize("how", ["stopped", "crashed"])
def test_a_killed_partition_actor_is_restarted_and_delivery_continues(make_broker, how, log):
    broker = make_broker(queue_size=64, log=log)
    gate, got = threading.Event(), Collector()

    def handler(record):
        if record.offset == 3 and not gate.is_set():
            gate.wait()  # record 3 is in flight, uncommitted, when the actor dies
        got(record)

    broker.subscribe("t", "g", handler)
    for i in range(6):
        broker.publish("t", "k", b"%d" % i)
    wait_for(lambda: got.offsets() == [0, 1, 2])
    (partition,) = broker.partitions("t")
    handle = broker.handle(partition)
    first = handle.ref
    if how == "stopped":
        first.stop()
    else:
        first.tell("not a broker message")  # the actor raises; on_failure reports it to the supervisor
    wait_for(lambda: not first.is_alive())
    gate.set()
    assert broker.publish("t", "k", b"6") == (0, 6)  # waits for the restart, then appends
    for i in range(7, 10):
        broker.publish("t", "k", b"%d" % i)
    wait_for(lambda: len(got.records) == 10)
    assert handle.ref is not first and handle.is_alive()
    assert got.offsets() == list(range(10))  # the in-flight record is redelivered; nothing lost


def test_close_drains_queued_records_then_refuses_publishes(make_broker):
    broker = make_broker(topics="t:3")
    got = Collector()
    broker.subscribe("t", "g", lambda record: (runtime.sleep(0.0005), got(record)))
    for i in range(300):
        broker.publish("t", f"k{i}", b"x")
    broker.close(timeout_s=5)
    assert len(got.records) == 300
    with pytest.raises(Unavailable):
        broker.publish("t", "k", b"x")


def test_partitions_report_health_and_metrics(make_broker, monkeypatch):
    monkeypatch.setattr(broker_actor, "TICK_S", 0.02)
    metrics = RecordingMetrics()
    broker = make_broker(topics="t:2", metrics=metrics)
    release = threading.Event()
    broker.subscribe("t", "g", lambda record: release.wait())
    for i in range(5):
        broker.publish("t", "same-key", b"x")
    partition = partition_for("same-key", 2)
    state = wait_for(lambda: (h := health(broker.supervisor)) and
                     h["components"]["broker"]["children"][f"broker.t.{partition}"]["lag"] == {"g": 5} and h)
    child = state["components"]["broker"]["children"][f"broker.t.{partition}"]
    assert child["status"] == "ok" and child["offset"] == 5 and child["queue_depth"] == 5
    assert set(state["components"]["broker"]["children"]) == {"broker.t.0", "broker.t.1"}
    assert metrics.gauges[f"broker.lag.t.{partition}.g"] == 5
    release.set()
    wait_for(lambda: metrics.counts.get("broker.consumed") == 5 and metrics.gauges[f"broker.lag.t.{partition}.g"] == 0)
    assert metrics.counts["broker.published"] == 5


def test_a_log_that_cannot_be_opened_fails_start_up_fast(tmp_path):
    (tmp_path / "broker").write_text("a file where the log folder should be")
    started = time.monotonic()
    with pytest.raises(Unavailable, match="broker.t.0 did not start"):
        with running_broker(tmp_path, log="on"):
            pass
    assert time.monotonic() - started < 5
    pykka.ActorRegistry.stop_all()


def test_close_after_the_supervisor_stopped_everything_returns_at_once(make_broker):
    broker = make_broker()
    release = threading.Event()
    broker.subscribe("t", "g", lambda record: release.wait())
    broker.publish("t", "k", b"x")
    broker.supervisor.ask(StopChildren())
    broker.supervisor.stop()
    started = time.monotonic()
    broker.close(timeout_s=5)
    assert time.monotonic() - started < 1
