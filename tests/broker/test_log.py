"""The broker with its segment log on: restarts, recovery from damaged files, durability under SIGKILL."""
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from actors.broker import actor as broker_actor
from actors.broker import partition as partition_module
from domain.broker import partition_for
from domain.errors import Unavailable
from storage.segment_log import HEADER_SIZE, SegmentLog
from tests.broker.test_local import ROOT_DIR, Collector, make_broker, wait_for  # noqa: F401 — make_broker is a fixture


def segment(tmp_path, topic="t", partition=0):
    (path,) = sorted((tmp_path / "broker" / topic / str(partition)).glob("*.log"))
    return path


def test_a_restart_resumes_each_group_after_its_committed_offset(make_broker, tmp_path):
    broker = make_broker(log="on", fsync="batch", topics="t:2")
    acks = [broker.publish("t", f"key-{i}", b"%d" % i) for i in range(30)]
    gate, first = threading.Event(), Collector()

    def stops_at_five(record):
        if record.offset >= 5:
            gate.wait()  # never set: the handler is still running when the broker closes
        first(record)

    broker.subscribe("t", "g", stops_at_five)
    wait_for(lambda: len(first.records) == sum(1 for p, o in acks if o < 5))
    broker.close(timeout_s=0.2)  # record 5 of each partition is in flight: not committed

    again = make_broker(log="on", fsync="batch", topics="t:2")
    resumed, fresh = Collector(), Collector()
    again.subscribe("t", "g", resumed)
    again.subscribe("t", "new", fresh)
    assert again.publish("t", "key-0", b"after") == (acks[0][0], sum(1 for p, _ in acks if p == acks[0][0]))
    wait_for(lambda: len(resumed.records) == 31 - len(first.records) and len(fresh.records) == 31)
    for partition in (0, 1):
        assert resumed.offsets(partition) == list(range(5, len(fresh.offsets(partition))))
    assert {(r.partition, r.offset) for r in resumed.records} | {(r.partition, r.offset) for r in first.records} == \
        {(r.partition, r.offset) for r in fresh.records}


def test_a_torn_tail_is_truncated_and_the_broker_starts(make_broker, tmp_path, caplog):
    broker = make_broker(log="on", fsync="always")
    for i in range(10):
        broker.publish("t", "k", b"v%d" % i)
    broker.close()
    path = segment(tmp_path)
    path.write_bytes(path.read_bytes()[:-9])  # the last record cut mid-write

    again = make_broker(log="on", fsync="always")
    got = Collector()
    again.subscribe("t", "g", got)
    assert again.publish("t", "k", b"next") == (0, 9)
    wait_for(lambda: len(got.records) == 10)
    assert got.offsets() == list(range(10)) and got.records[-1].value == b"next"
    assert [r.value for r in got.records[:9]] == [b"v%d" % i for i in range(9)]
    assert any(r.getMessage() == "broker.log.torn_tail_truncated" for r in caplog.records)


def test_a_corrupt_record_in_the_middle_is_skipped_and_the_broker_starts(make_broker, tmp_path, caplog):
    broker = make_broker(log="on", fsync="off")
    for i in range(10):
        broker.publish("t", "k", b"value-%d" % i)
    broker.close()
    path = segment(tmp_path)
    data = bytearray(path.read_bytes())
    frame = len(data) // 10
    data[4 * frame + HEADER_SIZE + 20] ^= 0xFF  # a flipped byte in record 4
    path.write_bytes(bytes(data))

    again = make_broker(log="on", fsync="off")
    got = Collector()
    again.subscribe("t", "g", got)
    wait_for(lambda: len(got.records) == 9)
    assert got.offsets() == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    assert again.publish("t", "k", b"next") == (0, 10)
    skipped = [r for r in caplog.records if r.getMessage() == "broker.log.corrupt_record_skipped"]
    assert len(skipped) == 1 and skipped[0].fields["position"] == 4 * frame


CHILD = r"""
from gevent import monkey; monkey.patch_all()
import sys
from actors import runtime
from actors.broker import start_broker
from actors.supervisor import Supervisor
from domain.config import AppConfig, BrokerConfig, ServerConfig
from domain.metrics import NullMetrics

config = AppConfig(server=ServerConfig(data_dir=sys.argv[1]),
                   broker=BrokerConfig(log="on", fsync="always", topics="t:2", segment_bytes=4096))
broker = start_broker(Supervisor.start(), config, NullMetrics()).broker

def produce(producer):
    for seq in range(100_000):
        value = f"{producer}:{seq}"
        partition, offset = broker.publish("t", f"key-{seq % 7}", value.encode())
        print(partition, offset, value, flush=True)

for greenlet in [runtime.spawn(produce, p) for p in range(4)]:
    greenlet.join()
"""


def test_no_acknowledged_publish_is_lost_when_the_process_is_killed(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], cwd=ROOT_DIR, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    acked = []
    try:
        deadline = time.monotonic() + 30
        while len(acked) < 400 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            partition, offset, value = line.split()
            acked.append((int(partition), int(offset), value))
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    assert len(acked) >= 400, child.stderr.read()[-2000:]
    for partition in (0, 1):
        log, _ = SegmentLog.open(tmp_path / "broker" / "t" / str(partition), 4096, keep=0)
        stored = {e.offset: e.value.decode() for e in log.read(0, 1_000_000)}
        log.close()
        mine = [(offset, value) for p, offset, value in acked if p == partition]
        assert mine and all(stored.get(offset) == value for offset, value in mine)
        assert all(partition_for(f"key-{int(v.split(':')[1]) % 7}", 2) == partition for v in stored.values())


def test_a_stalled_fsync_fails_the_publish_instead_of_hanging(make_broker, monkeypatch):
    monkeypatch.setattr(partition_module, "SYNC_TIMEOUT_S", 0.1)
    monkeypatch.setattr(broker_actor, "TICK_S", 0.02)
    broker = make_broker(log="on", fsync="always")
    monkeypatch.setattr(SegmentLog, "sync", lambda self: time.sleep(1.0))  # a disk that stopped answering
    started = time.monotonic()
    with pytest.raises(Unavailable, match="could not be synced"):
        broker.publish("t", "k", b"x")
    assert time.monotonic() - started < 0.9
