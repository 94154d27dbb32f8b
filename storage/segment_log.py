"""The append-only segment log of one broker partition: framed records in files named by their first offset.

Pure storage: bytes and plain files in, records out; no actors, no greenlets, no clock. ``encode`` and
``scan`` work on bytes alone; ``SegmentLog`` adds files and is driven by its owner, who decides when to
``flush`` (hand the buffered frames to the OS) and when to ``sync`` (fsync them).

Frame: ``magic u16 | length u32 | crc32(body) u32 | body``, body = ``offset u64 | timestamp_ms i64 |
key_len u16 | key | value``. Each record carries its own offset, so a record skipped as corrupt leaves a
gap in the offsets instead of shifting the records after it.

Recovery (``SegmentLog.open``) scans the active (last) segment: a bad frame with no valid frame after it
is a torn tail and is truncated; a bad frame followed by valid ones is reported and skipped. A segment
is fsynced when it is sealed, so only the active one can be torn by a crash; sealed segments are
verified by the same scanner when they are read, and start-up time does not grow with the history.
"""
from __future__ import annotations

import bisect
import logging
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from domain import logs

log = logging.getLogger("confab.broker.log")

MAGIC = 0xC0FA
_HEAD = struct.Struct(">HII")  # magic, body length, crc32 of the body
_BODY = struct.Struct(">QqH")  # offset, timestamp in ms, key length
HEADER_SIZE = _HEAD.size
_MAGIC_BYTES = MAGIC.to_bytes(2, "big")
READ_CHUNK = 1 << 20
SUFFIX = ".log"


class Entry(NamedTuple):
    offset: int
    timestamp_ms: int
    key: bytes
    value: bytes


def encode(offset: int, timestamp_ms: int, key: bytes, value: bytes) -> bytes:
    """One framed record."""
    body = _BODY.pack(offset, timestamp_ms, len(key)) + key + value
    return _HEAD.pack(MAGIC, len(body), zlib.crc32(body)) + body


@dataclass
class Scan:
    entries: list[Entry] = field(default_factory=list)
    end: int = 0  # where the next scan starts: just past the last frame consumed (valid or skipped)
    skipped: list[tuple[int, int]] = field(default_factory=list)  # (start, end) of corrupt frames skipped
    torn: int | None = None  # with final: where the unreadable tail starts


def _frame_end(data: memoryview, pos: int, size: int) -> int | None:
    """The end of the valid frame at ``pos``, or None."""
    if size - pos < HEADER_SIZE:
        return None
    magic, length, crc = _HEAD.unpack_from(data, pos)
    end = pos + HEADER_SIZE + length
    if magic != MAGIC or length < _BODY.size or end > size:
        return None
    if zlib.crc32(data[pos + HEADER_SIZE:end]) != crc:
        return None
    key_len = _BODY.unpack_from(data, pos + HEADER_SIZE)[2]
    return end if _BODY.size + key_len <= length else None


def _incomplete(data: memoryview, pos: int, size: int) -> bool:
    """A frame cut by the end of the buffer: more bytes from the file may complete it."""
    if size - pos < HEADER_SIZE:
        return True
    magic, length, _ = _HEAD.unpack_from(data, pos)
    return magic == MAGIC and pos + HEADER_SIZE + length > size


def _resync(data: bytes, view: memoryview, start: int, after: int) -> int | None:
    """The next position at or past ``start`` holding a valid frame whose offset follows ``after``."""
    pos = start
    while (pos := data.find(_MAGIC_BYTES, pos)) >= 0:
        if _frame_end(view, pos, len(data)) is not None and _BODY.unpack_from(view, pos + HEADER_SIZE)[0] > after:
            return pos
        pos += 1
    return None


def scan(data: bytes, *, final: bool = True, min_offset: int = 0, limit: int | None = None) -> Scan:
    """Decode the frames of ``data``, keeping records at or past ``min_offset`` (at most ``limit``).

    ``final`` says ``data`` runs to the end of its file: a bad frame with no valid frame after it is then
    a torn tail (``torn``). Without ``final`` scanning stops before a frame the buffer cuts, and ``end``
    tells where to read more from.
    """
    view, size = memoryview(data), len(data)
    result, pos, last = Scan(), 0, -1
    while pos < size and (limit is None or len(result.entries) < limit):
        end = _frame_end(view, pos, size)
        if end is None:
            if not final and _incomplete(view, pos, size):
                break
            resumed = _resync(data, view, pos + 1, last)
            if resumed is None:
                if final:
                    result.torn = pos
                break
            result.skipped.append((pos, resumed))
            pos = resumed
            continue
        offset, timestamp_ms, key_len = _BODY.unpack_from(view, pos + HEADER_SIZE)
        if offset >= min_offset:
            key_at = pos + HEADER_SIZE + _BODY.size
            result.entries.append(Entry(offset, timestamp_ms, bytes(view[key_at:key_at + key_len]),
                                        bytes(view[key_at + key_len:end])))
        last, pos = offset, end
    result.end = pos
    return result


@dataclass
class Recovery:
    """What ``SegmentLog.open`` found; the owner logs it with its own ids."""
    segments: int
    next_offset: int
    tail: list[Entry]  # the active segment's records at or past ``tail_from``
    tail_from: int  # max(first offset of the active segment, next_offset - keep)
    skipped: list[tuple[str, int, int]]  # (file, start, end) of corrupt frames skipped
    truncated: tuple[str, int, int] | None  # (file, position, bytes cut) of a torn tail


@dataclass
class _Segment:
    base: int
    path: Path
    size: int


def _segment_path(directory: Path, base: int) -> Path:
    return directory / f"{base:020d}{SUFFIX}"


def _pread(path: Path, size: int, pos: int) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, size, pos)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class SegmentLog:
    """One partition's segment files. Not thread-safe: one owner drives it; only ``sync`` may run on
    another thread while the owner keeps calling ``append``. After an ``OSError`` reopen it: the files
    may hold a partial frame that only recovery removes."""

    def __init__(self, directory: Path, segment_bytes: int, segments: list[_Segment]) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self._segments = segments
        self._bases = [s.base for s in segments]
        self._fd = os.open(segments[-1].path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._pending: list[bytes] = []
        self._pending_base = 0
        self._dir_dirty = False
        self._hints: dict[int, tuple[int, int]] = {}  # next offset -> (segment index, position)
        self.next_offset = 0

    @classmethod
    def open(cls, directory: Path, segment_bytes: int, keep: int) -> tuple[SegmentLog, Recovery]:
        """Open (creating) the log in ``directory``, repairing a torn tail; ``keep`` bounds ``Recovery.tail``."""
        directory.mkdir(parents=True, exist_ok=True)
        segments = sorted((_Segment(int(p.stem), p, p.stat().st_size)
                           for p in directory.glob("*" + SUFFIX) if p.stem.isdigit()), key=lambda s: s.base)
        if not segments:
            segments = [_Segment(0, _segment_path(directory, 0), 0)]
        active = segments[-1]
        found = scan(_pread(active.path, active.size, 0) if active.size else b"")
        skipped = [(active.path.name, start, end) for start, end in found.skipped]
        for name, start, end in skipped:
            logs.event(log, "broker.log.corrupt_record_skipped", logging.WARNING, file=name, position=start,
                       bytes=end - start)
        truncated = None
        if found.torn is not None:
            truncated = (active.path.name, found.torn, active.size - found.torn)
            os.truncate(active.path, found.torn)
            active.size = found.torn
            logs.event(log, "broker.log.torn_tail_truncated", logging.WARNING, file=active.path.name,
                       position=found.torn, bytes=truncated[2])
        opened = cls(directory, segment_bytes, segments)
        opened.next_offset = found.entries[-1].offset + 1 if found.entries else active.base
        opened._dir_dirty = active.size == 0
        tail_from = max(active.base, opened.next_offset - keep)
        tail = [e for e in found.entries[-keep:] if e.offset >= tail_from] if keep > 0 else []
        return opened, Recovery(len(segments), opened.next_offset, tail, tail_from, skipped, truncated)

    @property
    def start_offset(self) -> int:
        """The first offset the files may hold (retention moves it forward)."""
        return self._segments[0].base

    @property
    def size_bytes(self) -> int:
        return sum(s.size for s in self._segments)

    def append(self, offset: int, timestamp_ms: int, key: bytes, value: bytes) -> None:
        """Buffer one record; it reaches the file at the next ``flush``."""
        if offset < self.next_offset:
            raise ValueError(f"offset {offset} is below the log's next offset {self.next_offset}")
        if not self._pending:
            self._pending_base = offset
        self._pending.append(encode(offset, timestamp_ms, key, value))
        self.next_offset = offset + 1

    def flush(self) -> None:
        """Write the buffered frames to the OS, first rolling to a new segment when the active one is full."""
        pending = self._pending
        if not pending:
            return
        active = self._segments[-1]
        if active.size >= self.segment_bytes:
            self._roll(self._pending_base)
            active = self._segments[-1]
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        written = os.write(self._fd, data)
        if written < len(data):
            _write_all(self._fd, data[written:])
        active.size += len(data)

    def sync(self) -> None:
        """fsync what was flushed (and the folder when a segment was created). Safe on another thread."""
        os.fsync(self._fd)
        if self._dir_dirty:
            self._dir_dirty = False
            fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def _roll(self, base: int) -> None:
        os.fsync(self._fd)  # sealed segments are never scanned at start-up, so seal them durably
        os.close(self._fd)
        segment = _Segment(base, _segment_path(self.directory, base), 0)
        self._fd = os.open(segment.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        self._segments.append(segment)
        self._bases.append(base)
        self._dir_dirty = True

    def read(self, offset: int, limit: int) -> list[Entry]:
        """Up to ``limit`` flushed records from ``offset`` on (the first retained one if it is gone)."""
        index = max(0, bisect.bisect_right(self._bases, offset) - 1)
        index, pos = self._hints.pop(offset, (index, 0))
        out: list[Entry] = []
        chunk = READ_CHUNK
        while index < len(self._segments) and len(out) < limit:
            segment = self._segments[index]
            if pos >= segment.size:
                index, pos, chunk = index + 1, 0, READ_CHUNK
                continue
            data = _pread(segment.path, min(chunk, segment.size - pos), pos)
            final = pos + len(data) >= segment.size
            found = scan(data, final=final, min_offset=offset, limit=limit - len(out))
            for start, end in found.skipped:
                logs.event(log, "broker.log.corrupt_record_skipped", logging.WARNING, file=segment.path.name,
                           position=pos + start, bytes=end - start)
            if found.torn is not None:
                logs.event(log, "broker.log.unreadable_tail_skipped", logging.WARNING, file=segment.path.name,
                           position=pos + found.torn, bytes=segment.size - pos - found.torn)
                pos = segment.size
            elif found.end == 0 and not final:
                chunk = segment.size - pos  # a frame longer than the chunk: read the rest of the segment
            else:
                pos, chunk = pos + found.end, READ_CHUNK
            out.extend(found.entries)
        if out:
            if len(self._hints) > 64:
                self._hints.clear()
            self._hints[out[-1].offset + 1] = (index, pos)
        return out

    def retain(self, max_bytes: int, max_age_s: float, now_s: float, keep_from: int) -> list[str]:
        """Delete the oldest sealed segments while the log is over ``max_bytes`` or they are older than
        ``max_age_s`` (0 disables either), never one holding an offset at or past ``keep_from``."""
        deleted: list[str] = []
        total = self.size_bytes
        while len(self._segments) > 1 and self._segments[1].base <= keep_from:
            oldest = self._segments[0]
            too_big = max_bytes > 0 and total > max_bytes
            too_old = max_age_s > 0 and now_s - oldest.path.stat().st_mtime > max_age_s
            if not (too_big or too_old):
                break
            oldest.path.unlink()
            total -= oldest.size
            del self._segments[0], self._bases[0]
            deleted.append(oldest.path.name)
        if deleted:
            self._hints.clear()
        return deleted

    def close(self) -> None:
        """Close the active file; frames not flushed are dropped (flush and sync first to keep them)."""
        self._pending.clear()
        os.close(self._fd)
