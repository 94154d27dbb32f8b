"""The outbound side of one WebSocket: a bounded queue of encoded frames, and the flusher that writes it.

Producers (a room's fan-out, a document actor, the socket's own session) ``push`` complete frames and
never wait: the bytes are queued and the socket is marked dirty. Once the running greenlet yields, the
flusher (``runtime.soon``) writes each dirty socket's queue with one non-blocking ``send``, so the
frames a socket got during one tick leave in one syscall. What the kernel does not take is written by
a greenlet of that socket (a cooperative ``sendall``) while newer frames queue behind it.

The queue is counted in bytes. A socket whose writer is stuck (the kernel buffer is full: the client
does not read) and whose queue passes ``limit`` is a reader that fell behind: ``on_overflow`` is called
once (with the bytes queued) and nothing more is queued, so memory per socket stays bounded by ``limit`` plus the frame in
flight. A socket with room in the kernel never overflows, however large one burst is: the next flush
hands it to the kernel.

Everything here runs on the gevent hub's thread; ``push`` and the flush never yield, so each is atomic.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from actors import runtime
from domain import logs

log = logging.getLogger("confab.ws")

OPEN, CLOSING, DEAD = 0, 1, 2


class Outbox:
    __slots__ = ("_sock", "_chunks", "queued", "limit", "_writer", "_dirty", "_state", "_on_overflow",
                 "_on_drained")

    def __init__(self, sock: Any, limit: int, on_overflow: Callable[[int], None]) -> None:
        self._sock = sock  # a gevent socket; ``_sock._sock`` is the non-blocking OS socket behind it
        self._chunks: list[bytes] | None = None
        self.queued = 0
        self.limit = limit
        self._writer: Any = None  # the greenlet finishing a write the kernel did not take at once
        self._dirty = False
        self._state = OPEN
        self._on_overflow = on_overflow
        self._on_drained: Callable[[], None] | None = None

    @property
    def open(self) -> bool:
        return self._state == OPEN

    @property
    def backlogged(self) -> bool:
        """The kernel's buffer was full at the last write: the client is reading slower than we send."""
        return self._writer is not None

    @property
    def behind(self) -> bool:
        """Backlogged, or a limit's worth of frames already waits (pushed since the last write): nothing
        optional should be added for this client now."""
        return self.backlogged or self.queued >= self.limit

    def push(self, data: bytes) -> bool:
        """Queue one complete frame; False when the socket is closing or gone (the frame is dropped)."""
        if self._state != OPEN:
            return False
        self._append(data)
        if self._writer is not None and self.queued > self.limit:
            self._overflowed()
            return False
        return True

    def push_last(self, data: bytes, then: Callable[[], None]) -> None:
        """Queue a final frame (a close frame): nothing is queued after it; ``then`` runs once it is
        written (or at once if the socket is gone)."""
        if self._state != OPEN:
            then()
            return
        self._append(data)
        self._state = CLOSING
        self._on_drained = then

    def discard(self) -> None:
        """The socket is gone: drop what is queued and accept nothing more."""
        self._state, self._chunks, self.queued, self._on_drained = DEAD, None, 0, None

    def _append(self, data: bytes) -> None:
        if self._chunks is None:
            self._chunks = [data]
        else:
            self._chunks.append(data)
        self.queued += len(data)
        if not self._dirty and self._writer is None:
            self._dirty = True
            _FLUSHER.mark(self)

    def _overflowed(self) -> None:
        queued = self.queued
        self.discard()
        self._on_overflow(queued)

    def _take(self) -> bytes:
        chunks, self._chunks, self.queued = self._chunks, None, 0
        if not chunks:
            return b""
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def flush(self) -> None:
        """Write what is queued without blocking; start the socket's writer for what the kernel left."""
        self._dirty = False
        if self._state == DEAD or self._writer is not None:
            return
        data = self._take()
        if data:
            try:
                sent = self._sock._sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self.discard()
                return
            if sent < len(data):
                self._writer = runtime.spawn(self._drain, memoryview(data)[sent:])
                return
        self._maybe_drained()

    def _drain(self, rest: memoryview | bytes) -> None:
        try:
            while rest:
                self._sock.sendall(rest)  # cooperative: waits until the client reads
                rest = self._take()
        except OSError:  # reset, or aborted after an overflow: the reader ends the session
            self.discard()
        finally:
            self._writer = None
        self._maybe_drained()

    def _maybe_drained(self) -> None:
        if self._state == CLOSING and not self._chunks and self._on_drained is not None:
            then, self._on_drained = self._on_drained, None
            then()


class _Flusher:
    """The dirty outboxes of this tick, written in one hub callback."""

    def __init__(self) -> None:
        self._dirty: list[Outbox] = []

    def mark(self, box: Outbox) -> None:
        if not self._dirty:
            runtime.soon(self._run)
        self._dirty.append(box)

    def _run(self) -> None:
        dirty, self._dirty = self._dirty, []
        for box in dirty:
            try:
                box.flush()
            except Exception:  # noqa: BLE001 — runs in the hub: one socket's bug must not stop the others
                logs.event(log, "ws.flush_failed", logging.ERROR, exc_info=True)
                box.discard()


_FLUSHER = _Flusher()
