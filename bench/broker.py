"""Broker throughput report: publish→consume events/s per mode, each against the ceiling of its fsync policy.

The ceiling is the raw rate of appending records of the same framed size to a plain file in the same
folder with the same fsync policy (never / every batch / every record), one ``os.write`` per record.
Every loop is bounded in count and time. Run on demand (not a test):

    .venv/bin/python bench/broker.py [--dir DIR] [--seconds S]

It prints a markdown table and writes it to bench/results/broker.md.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import gc  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pykka  # noqa: E402

from actors import runtime  # noqa: E402
from actors.broker import start_broker  # noqa: E402
from actors.supervisor import Supervisor  # noqa: E402
from domain.broker import partition_for  # noqa: E402
from domain.config import AppConfig, BrokerConfig, ServerConfig  # noqa: E402
from domain.metrics import NullMetrics  # noqa: E402
from storage.segment_log import encode  # noqa: E402

VALUE = b"v" * 100
BATCH_RECORDS = BrokerConfig().fsync_batch_records


@dataclass(frozen=True)
class Mode:
    name: str
    broker: dict
    policy: str  # the ceiling's fsync policy: never | batch | always
    producers: int  # concurrent publishing greenlets in all; 0: one per partition
    events: int  # in all, at most


MODES = [
    Mode("memory (log off)", {"log": "off"}, "never", 0, 200_000),
    Mode("log on, fsync=off", {"log": "on", "fsync": "off"}, "never", 0, 150_000),
    Mode("log on, fsync=batch", {"log": "on", "fsync": "batch"}, "batch", 4 * BATCH_RECORDS, 150_000),
    Mode("log on, fsync=always", {"log": "on", "fsync": "always"}, "always", 0, 2_000),
]
CEILING_RECORDS = {"never": 300_000, "batch": 200_000, "always": 2_000}
REPEATS = 3  # the machine is shared: each figure is the best of this many runs


def keys_for(partitions: int) -> list[str]:
    """One key per partition, so every partition gets the same share."""
    found: dict[int, str] = {}
    i = 0
    while len(found) < partitions:
        found.setdefault(partition_for(f"key-{i}", partitions), f"key-{i}")
        i += 1
    return [found[p] for p in range(partitions)]


def broker_rate(mode: Mode, partitions: int, folder: Path, seconds: float) -> float:
    """Events/s from the first publish to the last delivery to one consumer group."""
    data = Path(tempfile.mkdtemp(prefix="broker-", dir=folder))
    supervisor = Supervisor.start()
    config = AppConfig(server=ServerConfig(data_dir=str(data)),
                       broker=BrokerConfig(topics=f"bench:{partitions}", **mode.broker))
    broker = start_broker(supervisor, config, NullMetrics()).broker
    counts = {"published": 0, "consumed": 0}
    producers_done, all_consumed = threading.Event(), threading.Event()

    def handler(record: object) -> None:
        counts["consumed"] += 1
        if producers_done.is_set() and counts["consumed"] >= counts["published"]:
            all_consumed.set()

    def produce(key: str, count: int, deadline: float) -> None:
        for i in range(count):
            broker.publish("bench", key, VALUE)
            counts["published"] += 1
            if i & 63 == 0 and time.monotonic() > deadline:
                return

    broker.subscribe("bench", "bench", handler)
    producers = mode.producers or partitions
    keys = keys_for(partitions)
    gc.collect()
    gc.freeze()  # as the server does after start-up
    try:
        started = time.perf_counter()
        deadline = time.monotonic() + seconds
        greenlets = [runtime.spawn(produce, keys[i % partitions], mode.events // producers, deadline)
                     for i in range(producers)]
        for greenlet in greenlets:
            greenlet.join()
        producers_done.set()
        if counts["consumed"] < counts["published"]:
            all_consumed.wait(seconds + 30)
        elapsed = time.perf_counter() - started
    finally:
        gc.unfreeze()
        broker.close(timeout_s=5)
        supervisor.stop()
        pykka.ActorRegistry.stop_all()
        shutil.rmtree(data, ignore_errors=True)
    return counts["consumed"] / elapsed


def ceiling_rate(policy: str, record_size: int, folder: Path, seconds: float) -> float:
    """Records/s appended to a plain file, one write each, fsynced never, every batch or every record."""
    path = folder / f"ceiling-{policy}.bin"
    record = b"x" * record_size
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    try:
        started = time.perf_counter()
        deadline = time.monotonic() + seconds
        written = 0
        for written in range(1, CEILING_RECORDS[policy] + 1):
            os.write(fd, record)
            if policy == "always" or (policy == "batch" and written % BATCH_RECORDS == 0):
                os.fsync(fd)
            if written & 63 == 0 and time.monotonic() > deadline:
                break
        return written / (time.perf_counter() - started)
    finally:
        os.close(fd)
        path.unlink()


def best(measure, *args) -> float:
    return max(measure(*args) for _ in range(REPEATS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=None, help="folder on the disk to measure (default: a temp folder)")
    parser.add_argument("--seconds", type=float, default=4.0, help="time bound of each run")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="confab-bench-", dir=args.dir))
    record_size = len(encode(0, time.time_ns() // 1_000_000, keys_for(1)[0].encode(), VALUE))
    rows = []
    began = time.monotonic()
    try:
        for mode in MODES:
            for partitions in (1, 8):
                rate = best(broker_rate, mode, partitions, folder, args.seconds)
                ceiling = best(ceiling_rate, mode.policy, record_size, folder, args.seconds)
                rows.append(f"| {mode.name} | {partitions} | {mode.producers or partitions} | {rate:,.0f} | "
                            f"{mode.policy} | {ceiling:,.0f} | {rate / ceiling:.2f} |")
                print(rows[-1], flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report = "\n".join([
        "# Broker benchmark (last run)",
        "",
        f"`.venv/bin/python bench/broker.py` on {time.strftime('%Y-%m-%d %H:%M')}: Python "
        f"{platform.python_version()}, {os.cpu_count()} cores, {time.monotonic() - began:.0f} s. "
        f"Records of {record_size} bytes framed ({len(VALUE)}-byte value), one consumer group, fsync batch "
        f"{BATCH_RECORDS} records / {BrokerConfig().fsync_batch_ms:g} ms, best of {REPEATS} runs per figure.",
        "",
        "| mode | partitions | producers | events/s | ceiling fsync | ceiling records/s | ratio |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        NOTES,
    ])
    out = ROOT / "bench" / "results" / "broker.md"
    out.write_text(report, encoding="utf-8")
    print(report)


NOTES = """Reading it: events/s runs from the first publish to the last delivery to one consumer group; every
publish waits for its ack (durable per the fsync policy). The ceiling is a tight loop of one `os.write`
per record on a plain file in the same folder, fsynced never, every 256 records, or every record. The
machine is a shared 2-core VM (steal time up to a third): runs differ by ±30 %, hence best of 3.

What limits each mode (py-spy and cProfile, 2026-11-23):
- memory: pure Python per event, no syscall: ~1.6 µs to append (offset, timestamp, Record tuple, ring
  slot), ~0.2 µs to hash the key, ~1.5 µs to deliver (handler call, offset bound to the log context,
  commit). Aim of 100,000/s met with margin; half the `never` ceiling (a bare syscall loop) is not.
- log on, fsync=off: adds the frame (struct + CRC-32, ~0.8 µs) and one `os.write` per publish, so an
  acknowledged record survives a crash of the process; that write alone is the whole ceiling.
- fsync=batch: every publisher parks its greenlet until its group commit; ~40 % of the CPU is gevent
  waking the parked publishers, ~30 % the publish path. 4 x 256 concurrent producers keep one batch
  filling while the previous one is synced; with fewer, batches close on the 5 ms timer.
- fsync=always: one fsync per record with one producer per partition (concurrent producers on a
  partition share an fsync). fsync runs on the thread pool (`runtime.run_blocking`) so the hub keeps
  serving. Measured against fsync on the hub (best of 3): one partition 1,579 vs 2,398 events/s
  (the thread hop costs ~0.2 ms), eight partitions 3,153 vs 2,208 (fsyncs of partitions overlap);
  batch 59,601 vs 67,917 (1 partition) and 52,288 vs 46,556 (8). Kept on the thread: a server has many
  partitions and must not freeze every WebSocket for each fsync.
"""


if __name__ == "__main__":
    main()
