"""The segment log as a pure module: real files, no actors, no greenlets."""
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import segment_log
from storage.offsets import load_offsets, save_offsets
from storage.segment_log import HEADER_SIZE, Entry, SegmentLog, encode, scan


def write(directory, values, segment_bytes=1 << 20, keep=1000, start=0, timestamp_ms=1_000):
    log, _ = SegmentLog.open(directory, segment_bytes, keep)
    for i, value in enumerate(values, start):
        log.append(i, timestamp_ms, b"key-%d" % i, value)
        log.flush()
    log.sync()
    log.close()


def segment_files(directory):
    return sorted(p for p in directory.iterdir() if p.suffix == ".log")


def all_entries(directory, keep=1000):
    log, recovery = SegmentLog.open(directory, 1 << 20, keep)
    try:
        return log.read(0, 10_000), recovery
    finally:
        log.close()


def frame_starts(data):
    starts, pos = [], 0
    while pos < len(data):
        starts.append(pos)
        pos += HEADER_SIZE + int.from_bytes(data[pos + 2:pos + 6], "big")
    return starts


def test_encode_then_scan_round_trips():
    data = b"".join(encode(i, 10 + i, b"k%d" % i, b"v" * i) for i in range(5))
    found = scan(data)
    assert found.entries == [Entry(i, 10 + i, b"k%d" % i, b"v" * i) for i in range(5)]
    assert found.end == len(data) and found.skipped == [] and found.torn is None


def test_scan_without_final_stops_before_a_cut_frame():
    data = encode(0, 1, b"a", b"x" * 50) + encode(1, 1, b"b", b"y" * 50)
    cut = data[:-7]
    partial = scan(cut, final=False)
    assert [e.offset for e in partial.entries] == [0] and partial.torn is None
    assert partial.end == len(encode(0, 1, b"a", b"x" * 50))
    assert scan(cut).torn == partial.end  # the same bytes at the end of a file are a torn tail


def test_torn_tail_is_truncated_and_appending_continues(tmp_path):
    write(tmp_path, [b"v%d" % i for i in range(10)])
    path = segment_files(tmp_path)[0]
    whole = path.read_bytes()
    last = frame_starts(whole)[-1]
    path.write_bytes(whole[:last + 13])  # the last record cut mid-write
    log, recovery = SegmentLog.open(tmp_path, 1 << 20, keep=100)
    assert recovery.truncated == (path.name, last, 13)
    assert recovery.next_offset == 9 and [e.offset for e in recovery.tail] == list(range(9))
    assert path.stat().st_size == last
    log.append(9, 5, b"k", b"again")
    log.flush()
    log.close()
    entries, again = all_entries(tmp_path)
    assert [e.offset for e in entries] == list(range(10)) and entries[-1].value == b"again"
    assert again.truncated is None and again.skipped == []


@pytest.mark.parametrize("where", ["magic", "length", "crc", "offset", "value"])
def test_a_flipped_byte_in_the_middle_skips_only_that_record(tmp_path, where):
    write(tmp_path, [b"value-%03d" % i for i in range(10)])
    path = segment_files(tmp_path)[0]
    data = bytearray(path.read_bytes())
    start = frame_starts(bytes(data))[4]
    at = start + {"magic": 0, "length": 4, "crc": 7, "offset": HEADER_SIZE + 7, "value": HEADER_SIZE + 25}[where]
    data[at] ^= 0x40
    path.write_bytes(bytes(data))
    entries, recovery = all_entries(tmp_path)
    assert [e.offset for e in entries] == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    assert all(e.value == b"value-%03d" % e.offset for e in entries)
    assert len(recovery.skipped) == 1 and recovery.skipped[0][1] == start
    assert recovery.truncated is None and recovery.next_offset == 10
    assert len(path.read_bytes()) == len(data)  # reported and skipped, never cut


def test_segments_roll_and_reads_cross_them(tmp_path):
    write(tmp_path, [b"x" * 100 for _ in range(40)], segment_bytes=1024)
    files = segment_files(tmp_path)
    assert len(files) > 3 and files[0].name == "00000000000000000000.log"
    log, recovery = SegmentLog.open(tmp_path, 1024, keep=1000)
    assert recovery.next_offset == 40 and recovery.tail_from == int(files[-1].stem)
    assert [e.offset for e in recovery.tail] == list(range(recovery.tail_from, 40))
    seen, offset = [], 0
    while batch := log.read(offset, 7):
        seen += [e.offset for e in batch]
        offset = batch[-1].offset + 1
    assert seen == list(range(40))
    assert [e.offset for e in log.read(23, 3)] == [23, 24, 25]
    log.close()


def test_corruption_in_a_sealed_segment_is_reported_when_read(tmp_path, caplog):
    write(tmp_path, [b"y" * 100 for _ in range(30)], segment_bytes=1024)
    first = segment_files(tmp_path)[0]
    data = bytearray(first.read_bytes())
    data[frame_starts(bytes(data))[2] + HEADER_SIZE + 30] ^= 1
    first.write_bytes(bytes(data))
    entries, recovery = all_entries(tmp_path)
    assert recovery.skipped == []  # start-up scans the active segment only
    assert 2 not in [e.offset for e in entries] and len(entries) == 29
    assert any(r.getMessage() == "broker.log.corrupt_record_skipped" for r in caplog.records)


@pytest.mark.parametrize("chunk", [64, 1000, 1 << 20])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(0, 700), min_size=1, max_size=40))
def test_reads_in_any_chunk_size_return_every_record(tmp_path_factory, monkeypatch, chunk, sizes):
    directory = tmp_path_factory.mktemp("log")
    monkeypatch.setattr(segment_log, "READ_CHUNK", chunk)
    write(directory, [bytes([i % 251]) * size for i, size in enumerate(sizes)], segment_bytes=2048)
    log, _ = SegmentLog.open(directory, 2048, keep=0)
    entries = log.read(0, 1000)
    log.close()
    assert [len(e.value) for e in entries] == sizes and [e.offset for e in entries] == list(range(len(sizes)))


def test_retention_by_size_deletes_only_the_oldest_sealed_segments(tmp_path):
    write(tmp_path, [b"z" * 200 for _ in range(60)], segment_bytes=1024)
    files = segment_files(tmp_path)
    log, _ = SegmentLog.open(tmp_path, 1024, keep=10)
    size = log.size_bytes
    deleted = log.retain(max_bytes=size // 2, max_age_s=0, now_s=0, keep_from=60)
    remaining = segment_files(tmp_path)
    assert deleted == [f.name for f in files[:len(deleted)]] and deleted
    assert remaining == files[len(deleted):] and log.size_bytes <= size // 2
    assert log.start_offset == int(remaining[0].stem)
    assert log.read(0, 1)[0].offset == log.start_offset  # a read below the start gets the first kept record
    assert log.retain(max_bytes=1, max_age_s=0, now_s=0, keep_from=60) and segment_files(tmp_path) == files[-1:]
    log.close()


def test_retention_by_age_spares_new_segments_and_those_a_group_still_needs(tmp_path):
    write(tmp_path, [b"z" * 200 for _ in range(30)], segment_bytes=1024)
    files = segment_files(tmp_path)
    now = 10_000_000.0
    for i, path in enumerate(files):
        os.utime(path, (now - 3600 * (10 - i), now - 3600 * (10 - i)))  # file i is 10 - i hours old
    log, _ = SegmentLog.open(tmp_path, 1024, keep=10)
    needed_from = int(files[1].stem) + 1  # a group has not read past the start of the second segment
    assert log.retain(max_bytes=0, max_age_s=8.5 * 3600, now_s=now, keep_from=needed_from) == [files[0].name]
    assert log.retain(max_bytes=0, max_age_s=8.5 * 3600, now_s=now, keep_from=10_000) == [files[1].name]
    assert log.retain(max_bytes=0, max_age_s=0, now_s=now, keep_from=10_000) == []
    log.close()


def test_offsets_round_trip_and_a_damaged_file_reads_as_empty(tmp_path):
    path = tmp_path / "offsets.json"
    assert load_offsets(path) == {}
    save_offsets(path, {"chat": 12, "collab": 0}, durable=True)
    assert load_offsets(path) == {"chat": 12, "collab": 0}
    path.write_bytes(b'{"chat": 1')
    assert load_offsets(path) == {}
