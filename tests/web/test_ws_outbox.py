"""The outbox of one socket (web.sockets.outbox), on a real socket pair: frames pushed in one tick leave in one
send, a full kernel buffer hands the rest to the socket's writer, and a reader that stops reading is
cut once its queue passes the limit (never before, whatever one burst is)."""
from __future__ import annotations

import socket
from typing import Any

import gevent
import pytest

from web.sockets.outbox import Outbox


class CountingSocket:
    """A real (gevent) socket whose OS-level ``send`` calls are counted."""

    def __init__(self, sock: Any) -> None:
        self._real = sock
        self._sock = self  # Outbox writes through ``sock._sock.send`` (non-blocking)
        self.sends: list[int] = []

    def send(self, data: bytes) -> int:
        sent = self._real._sock.send(data)
        self.sends.append(sent)
        return sent

    def sendall(self, data: Any) -> None:
        self._real.sendall(data)


@pytest.fixture
def pair() -> Any:
    """A loopback TCP connection with small buffers: (server side, client side)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    b = socket.socket()
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    b.connect(listener.getsockname())
    a, _ = listener.accept()
    listener.close()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    yield a, b
    a.close()
    b.close()


def read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    sock.settimeout(5)
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "peer closed"
        data += chunk
    return data


def test_frames_pushed_in_one_tick_leave_in_one_send(pair: Any) -> None:
    a, b = pair
    counting = CountingSocket(a)
    box = Outbox(counting, limit=1 << 20, on_overflow=lambda queued: None)
    for frame in (b"one", b"two", b"three"):
        assert box.push(frame)
    assert counting.sends == []  # nothing is written before the pushing greenlet yields
    gevent.sleep(0)
    assert counting.sends == [11]
    assert read_exactly(b, 11) == b"onetwothree"


def test_a_full_kernel_buffer_is_finished_by_the_writer_in_order(pair: Any) -> None:
    a, b = pair
    box = Outbox(CountingSocket(a), limit=1 << 20, on_overflow=lambda queued: pytest.fail("no overflow"))
    frames = [bytes([i]) * 50_000 for i in range(6)]  # one burst, far over the kernel buffer and the limit
    for frame in frames[:3]:
        assert box.push(frame)
    gevent.sleep(0)
    assert box.backlogged  # the kernel took part of it; the socket's writer waits for the reader
    for frame in frames[3:]:
        assert box.push(frame)  # queued behind: 150 KB < 1 MiB
    reader = gevent.spawn(read_exactly, b, 300_000)
    assert reader.get(timeout=10) == b"".join(frames)
    gevent.sleep(0.01)
    assert not box.backlogged and box.queued == 0


def test_a_reader_that_stops_is_cut_once_past_the_limit_and_only_then(pair: Any) -> None:
    a, _b = pair  # b never reads
    overflows: list[int] = []
    box = Outbox(CountingSocket(a), limit=100_000, on_overflow=overflows.append)
    assert box.push(b"x" * 400_000)  # one burst bigger than the limit: accepted, the kernel takes some
    gevent.sleep(0.05)
    assert box.backlogged and not overflows
    pushed = 0
    while box.push(b"y" * 10_000):
        pushed += 1
        assert pushed < 20
    assert pushed == 10  # queued bytes passed 100,000 at the 11th frame
    assert overflows == [110_000]
    assert not box.push(b"z") and overflows == [110_000]  # nothing more is queued, once told


def test_a_last_frame_runs_its_callback_once_written(pair: Any) -> None:
    a, b = pair
    written: list[str] = []
    box = Outbox(CountingSocket(a), limit=1 << 20, on_overflow=lambda queued: None)
    box.push(b"data")
    box.push_last(b"close", lambda: written.append("done"))
    assert not box.push(b"late")  # nothing after the last frame
    gevent.sleep(0)
    assert written == ["done"] and read_exactly(b, 9) == b"dataclose"
