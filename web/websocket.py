"""Making simple-websocket safe on gevent: whole frames, one writer at a time, no stuck peers.

simple-websocket's gevent ``send()`` is one ``socket.send`` that may write part of a frame, and its
reader greenlet writes pongs and close frames while the session writes data. ``harden`` wraps the
socket so every write is a complete ``sendall`` under a per-socket lock with a deadline; a peer that
does not read within the deadline is cut off (a partial frame would corrupt the stream anyway).
"""
from __future__ import annotations

import logging
import socket
import threading
import uuid
from typing import Any, Callable

from flask import Request, request
from simple_websocket import ConnectionClosed

from actors import runtime
from actors.session import CLOSE_INTERNAL
from domain import logs

log = logging.getLogger("confab.ws")


LINGER_S, LINGER_BYTES = 1.0, 256 * 1024  # what a closing socket still reads from its peer


class SendTimeout(OSError):
    """The peer did not accept a frame within the send deadline; the socket has been aborted."""


class _WholeFrameSocket:
    """Delegates to the gevent socket; ``send`` becomes a locked, deadline-bounded ``sendall``.

    It first tries one non-blocking write on the underlying OS socket (``_sock``, which gevent keeps
    non-blocking): most frames fit in the kernel buffer, and then no deadline timer is created.
    """

    def __init__(self, sock: socket.socket, send_timeout_s: float) -> None:
        self._sock = sock
        self._lock = threading.Lock()  # gevent's lock under monkey patching
        self._send_timeout_s = send_timeout_s

    def send(self, data: bytes) -> int:
        with self._lock:
            try:  # fast path: the kernel buffer has room, no deadline timer needed
                sent = self._sock._sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            if sent < len(data) and not runtime.within(self._send_timeout_s, self._sock.sendall,
                                                       memoryview(data)[sent:]):
                abort(self._sock)
                raise SendTimeout("peer did not read within the send deadline")
        return len(data)

    def close(self) -> None:
        """Close gracefully: a FIN after the close frame, then read what the peer still sends (bounded)
        before closing — closing with unread bytes makes the kernel answer with a reset, which can
        destroy the close frame before the peer reads it."""
        try:
            self._sock.shutdown(socket.SHUT_WR)
            runtime.within(LINGER_S, self._drain)
        except OSError:
            pass
        finally:
            self._sock.close()

    def _drain(self) -> None:
        received = 0
        while received < LINGER_BYTES:
            chunk = self._sock.recv(16384)
            if not chunk:
                return
            received += len(chunk)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def harden(ws: Any, send_timeout_s: float) -> None:
    """Apply the wrapper to a fresh simple-websocket connection (before its reader first runs).

    simple-websocket ``dup()``s pywsgi's socket, so each WebSocket would hold two descriptors for its
    whole life (one process would stop near 10,000 sockets under a 20,000 open-files limit). The
    connection lives on in the duplicate; pywsgi's own descriptor is closed here.
    """
    raw = ws.sock
    try:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass
    ws.sock = _WholeFrameSocket(raw, send_timeout_s)
    _close_pywsgi_descriptor(ws.environ, raw)


def _close_pywsgi_descriptor(environ: dict[str, Any], duplicate: Any) -> None:
    """Close the socket simple-websocket duplicated (found the way it finds it) and the file reading it:
    a socket with a file open on it only really closes when that file does."""
    reader = environ.get("wsgi.input")
    if reader is not None and not hasattr(reader, "raw") and hasattr(reader, "rfile"):
        reader = reader.rfile
    original = getattr(getattr(reader, "raw", None), "_sock", None)
    if original is None or original is duplicate:
        return
    original.close()
    reader.close()


def plain_frames(ws: Any) -> bool:
    """True when no extension (permessage-deflate) was negotiated: frames go on the wire as built."""
    return "HTTP_SEC_WEBSOCKET_EXTENSIONS" not in ws.environ


def abort(sock: Any) -> None:
    """Cut a connection now: the reader wakes up with EOF and the session ends."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def close(ws: Any, code: int, reason: str, linger_s: float = 2.0) -> None:
    """Send a close frame, then cut the socket if the peer does not answer within ``linger_s``."""
    try:
        if ws.connected:
            ws.close(reason=code, message=reason[:120])
    except Exception as exc:  # noqa: BLE001 — the peer is gone or stuck; abort below
        logs.event(log, "ws.close_failed", logging.DEBUG, error=repr(exc))
    runtime.call_later(linger_s, abort, ws.sock)


def serve_guarded(ws: Any, serve: Callable[[str], None], **ids: str) -> None:
    """Run a WebSocket route's body with its request id bound; a crash closes with 1011.

    Flask would otherwise write an HTTP 500 response onto the upgraded socket.
    """
    request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
    with logs.bound(request_id=request_id, **ids):
        try:
            serve(request_id)
        except ConnectionClosed:
            pass
        except Exception:  # noqa: BLE001 — see the docstring
            logs.event(log, "ws.crashed", logging.ERROR, exc_info=True, path=request.path)
            close(ws, CLOSE_INTERNAL, "internal error")


def bearer_from(request: Request) -> str | None:
    """``Authorization: Bearer …`` or, for browsers' WebSockets, ``?token=``."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.args.get("token") or None
