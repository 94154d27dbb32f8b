"""WebSockets on gevent: flask-sock's handshake, then one greenlet and one outbox per socket.

flask-sock (with simple-websocket) routes the upgrade and performs the opening handshake; the reader
thread simple-websocket would start per socket is not started (``_NoReaderThread``). Instead the
route's own greenlet reads the socket: bytes go into wsproto (the protocol's pure state machine), pings
are answered, a close is completed, and each whole message is returned by ``Connection.receive`` to the
route, which hands it to the socket's session. Everything written goes through the socket's
``Outbox`` (``web.sockets.outbox``): frames are pushed, never written by their producer.

Liveness: one greenlet per server (``Pinger``) walks the open connections; a socket silent for
``ping_interval_s`` gets a ping, and one still silent an interval later is cut.
"""
from __future__ import annotations

import logging
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from flask import Blueprint, Flask, Request, current_app, request
from flask_sock import Sock
from simple_websocket import ConnectionClosed
from wsproto.events import BytesMessage, CloseConnection, Message, Ping, TextMessage
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from actors import runtime
from domain import logs
from domain.ws_protocol import CLOSE_INTERNAL, CLOSE_POLICY, CLOSE_SLOW_CONSUMER, CLOSE_TOO_BIG, WireFrame
from web.sockets.outbox import Outbox

log = logging.getLogger("confab.ws")

LINGER_S, LINGER_BYTES = 1.0, 256 * 1024  # what a closing socket still reads from its peer
CLOSE_WAIT_S = 2.0  # how long a close we started waits for the peer's close frame
RECEIVE_BYTES = 65536


class _NoReaderThread:
    """simple-websocket's per-socket reader thread, not started: the route's greenlet reads."""

    def __init__(self, target: Callable[[], None]) -> None:
        self.name = "simple_websocket.unused"

    def start(self) -> None:
        pass


class Connection:
    """One accepted WebSocket: read by its route's greenlet, written through its outbox."""

    __slots__ = ("_ws", "_proto", "sock", "outbox", "plain", "max_message_bytes", "_messages", "_partial",
                 "_partial_size", "ended", "closing", "close_code", "last_heard", "pinged", "_on_overflow",
                 "_drained")

    def __init__(self, ws: Any, max_message_bytes: int, outbox_bytes: int) -> None:
        self._ws = ws
        self._proto = ws.ws  # wsproto's WSConnection, past the handshake
        self.sock = ws.sock
        self.plain = "HTTP_SEC_WEBSOCKET_EXTENSIONS" not in ws.environ  # no deflate: shared frames are valid
        self.outbox = Outbox(self.sock, outbox_bytes, self._overflowed)
        self.max_message_bytes = max_message_bytes
        self._messages: list[str | bytes] = []  # whole messages read ahead (rare: a list, not a 600-byte deque)
        self._partial: list[Any] = []
        self._partial_size = 0
        self.ended = False  # the peer closed or went away: nothing more will be read
        self.closing = False  # we sent a close frame (or are about to): nothing more is handed out
        self.close_code: int | None = None
        self.last_heard = time.monotonic()
        self.pinged = False
        self._on_overflow: Callable[[int], None] | None = None
        self._drained: Any = None  # an Event set once our close frame is written

    def on_overflow(self, callback: Callable[[int], None]) -> None:
        """``callback(queued_bytes)`` runs when the client fell too far behind, before it is cut."""
        self._on_overflow = callback

    # --- reading (the route's greenlet only) ---------------------------------------------------------

    def receive(self) -> str | bytes | None:
        """The next whole message; None once the connection is over or closing."""
        while not self._messages:
            if self.ended or self.closing or not self._read():
                return None
        return None if self.closing else self._messages.pop(0)

    def _read(self) -> bool:
        """Read once from the socket and handle what arrived; False at the end of the stream."""
        try:
            data = self.sock.recv(RECEIVE_BYTES)
        except OSError:
            data = b""
        if not data:
            self.ended = True
            return False
        self.last_heard, self.pinged = time.monotonic(), False
        try:
            self._proto.receive_data(data)
            self._handle_events()
        except (LocalProtocolError, RemoteProtocolError) as exc:
            logs.event(log, "ws.protocol_error", logging.INFO, error=str(exc))
            self.ended = True
            abort(self.sock)
        return not self.ended

    def _handle_events(self) -> None:
        for event in self._proto.events():
            if isinstance(event, (TextMessage, BytesMessage)):
                if not self.closing:
                    self._message_part(event)
            elif isinstance(event, Ping):
                self.outbox.push(self._proto.send(event.response()))
            elif isinstance(event, CloseConnection):
                self.ended = True
                if not self.closing:  # the client started it: answer; the socket then ends
                    self.closing, self.close_code = True, event.code
                    self.outbox.push_last(self._proto.send(event.response()), lambda: None)
                return
            # a Pong needs nothing: any byte heard counts as liveness (see _read)

    def _message_part(self, event: Message) -> None:
        self._partial_size += len(event.data)
        if self._partial_size > self.max_message_bytes:
            self._partial, self._partial_size = [], 0
            self.close(CLOSE_TOO_BIG, "message too big")
            return
        self._partial.append(event.data)
        if event.message_finished:
            parts, self._partial, self._partial_size = self._partial, [], 0
            joined = parts[0] if len(parts) == 1 else ("" if isinstance(event, TextMessage) else b"").join(parts)
            self._messages.append(joined)

    # --- writing (anyone, never blocking) -----------------------------------------------------------

    def send(self, frame: WireFrame) -> bool:
        """Queue a frame; False if the socket is closing or gone."""
        if self.plain:
            return self.outbox.push(frame.wire)
        if not self.outbox.open:
            return False
        message = BytesMessage(frame.payload) if frame.binary else TextMessage(frame.payload.decode())
        return self.outbox.push(self._proto.send(message))  # compressed for this connection by wsproto

    def ping(self) -> None:
        self.pinged = True
        if self.outbox.open:
            self.outbox.push(self._proto.send(Ping()))

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake: the close frame goes after what is queued; a peer that has not
        answered ``CLOSE_WAIT_S`` after it was written is cut. Idempotent."""
        if self.closing:
            return
        self.closing, self.close_code = True, code
        try:
            frame = self._proto.send(CloseConnection(code, reason[:120]))
        except LocalProtocolError:  # the connection is already closed
            return
        self._drained = runtime.event()
        self.outbox.push_last(frame, self._close_written)

    def _close_written(self) -> None:
        self._drained.set()
        runtime.call_later(CLOSE_WAIT_S, abort, self.sock)

    def _overflowed(self, queued: int) -> None:
        """The outbox passed its limit while the client was not reading: cut it now. A close frame
        cannot follow a frame half written, so the client sees the connection end (and resumes)."""
        self.closing, self.close_code = True, CLOSE_SLOW_CONSUMER
        if self._on_overflow is not None:
            self._on_overflow(queued)
        abort(self.sock)

    def finish(self) -> None:
        """The route is over. If we started a close, let it complete (bounded): our close frame out, the
        peer's close frame in. Then a FIN after what was sent, and a bounded read of what the peer still
        sends, so that no reset destroys our last frames; then the socket is closed."""
        self._ws.connected = False  # flask-sock's own close after the route is then a no-op
        if self.closing and self._drained is not None and not self.ended:
            runtime.within(CLOSE_WAIT_S, self._await_peer_close)
        self.ended = True
        self.outbox.discard()
        try:
            self.sock.shutdown(socket.SHUT_WR)
            runtime.within(LINGER_S, self._linger)
        except OSError:
            pass
        finally:
            self.sock.close()

    def _await_peer_close(self) -> None:
        self._drained.wait()
        while not self.ended and self._read():
            pass

    def _linger(self) -> None:
        received = 0
        while received < LINGER_BYTES:
            chunk = self.sock.recv(16384)
            if not chunk:
                return
            received += len(chunk)


def abort(sock: Any) -> None:
    """Cut a connection now: the reader wakes up with EOF and the session ends."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class Pinger:
    """Pings idle sockets and cuts the ones that stopped answering: one greenlet for all of them."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.live: set[Connection] = set()
        self._running = False

    def add(self, conn: Connection) -> None:
        self.live.add(conn)
        if not self._running and self.interval_s > 0:
            self._running = True
            runtime.spawn(self._run)

    def discard(self, conn: Connection) -> None:
        self.live.discard(conn)

    def _run(self) -> None:
        try:
            while self.live:
                runtime.sleep(self.interval_s / 5)  # each socket is looked at five times an interval
                self.sweep(time.monotonic())
        finally:
            self._running = False

    def sweep(self, now: float) -> None:
        for conn in list(self.live):
            if now - conn.last_heard < self.interval_s:
                continue
            if conn.pinged:
                logs.event(log, "ws.ping_timeout", logging.INFO, silent_s=round(now - conn.last_heard, 1))
                self.live.discard(conn)
                conn.close(CLOSE_POLICY, "ping timeout")
            else:
                conn.ping()
                conn.last_heard = now  # the answer is due within one interval from now


@dataclass
class _Settings:
    """One app's WebSocket settings and pinger (tests run several servers in one process)."""
    max_message_bytes: int
    outbox_bytes: int
    pinger: Pinger


def init_app(app: Flask, max_message_bytes: int, ping_interval_s: float, outbox_bytes: int) -> None:
    """The app's WebSocket settings and pinger; its socket routes come with their blueprints."""
    app.extensions["confab.websockets"] = _Settings(max_message_bytes, outbox_bytes, Pinger(ping_interval_s))
    app.config["SOCK_SERVER_OPTIONS"] = {"thread_class": _NoReaderThread}


_FLASK_SOCK = Sock()  # only its route decorator: the handshake; it is never bound to an app


def socket_route(bp: Blueprint, path: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Declare a WebSocket route on ``bp``: the view gets a ``Connection`` (flask-sock underneath)."""
    def decorator(view: Callable[..., None]) -> Callable[..., None]:
        def run(ws: Any, **kwargs: Any) -> None:
            settings: _Settings = current_app.extensions["confab.websockets"]
            _close_pywsgi_descriptor(ws.environ, ws.sock)
            try:
                ws.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
            conn = Connection(ws, settings.max_message_bytes, settings.outbox_bytes)
            settings.pinger.add(conn)
            try:
                view(conn, **kwargs)
            finally:
                settings.pinger.discard(conn)
                conn.finish()
        run.__name__ = view.__name__
        run._confab_public = getattr(view, "_confab_public", False)  # type: ignore[attr-defined]
        _FLASK_SOCK.route(path, bp=bp)(run)
        return run
    return decorator


def _close_pywsgi_descriptor(environ: dict[str, Any], duplicate: Any) -> None:
    """simple-websocket ``dup()``s pywsgi's socket, so each WebSocket would hold two descriptors for its
    whole life (one process would stop near 10,000 sockets under a 20,000 open-files limit). The
    connection lives on in the duplicate; pywsgi's own descriptor (and the file reading it: a socket with
    a file open on it only really closes when that file does) is closed here."""
    reader = environ.get("wsgi.input")
    if reader is not None and not hasattr(reader, "raw") and hasattr(reader, "rfile"):
        reader = reader.rfile
    original = getattr(getattr(reader, "raw", None), "_sock", None)
    if original is None or original is duplicate:
        return
    original.close()
    reader.close()


def serve_guarded(conn: Connection, serve: Callable[[str], None], **ids: str) -> None:
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
            conn.close(CLOSE_INTERNAL, "internal error")


def bearer_from(request: Request) -> str | None:
    """``Authorization: Bearer …`` or, for browsers' WebSockets, ``?token=``."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.args.get("token") or None
