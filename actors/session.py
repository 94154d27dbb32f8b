"""One actor per WebSocket: the only writer to its socket, and the one place its frames are handled.

The socket's route greenlet only reads and tells ``Inbound``; replies, broadcasts (``Send``) and
closes all pass through this actor's inbox, so frames leave in order and never interleave.
Frame handlers are registered per frame type by the modules that own them (chat, documents).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from actors import runtime
from actors.component import ComponentActor
from domain import logs, ws_protocol
from domain.auth import Principal
from domain.errors import DomainError, Internal
from domain.metrics import Metrics

log = logging.getLogger("confab.session")

CLOSE_GOING_AWAY, CLOSE_POLICY, CLOSE_INTERNAL = 1001, 1008, 1011


@dataclass(frozen=True)
class Inbound:
    data: str | bytes


@dataclass(frozen=True)
class Send:
    """A frame for the client: a dict, text already encoded, or a frame shared by many recipients."""
    frame: dict[str, Any] | str | ws_protocol.WireFrame


@dataclass(frozen=True)
class Close:
    code: int
    reason: str


@dataclass
class SessionContext:
    """What a frame handler knows about the session it serves."""
    session_id: str
    principal: Principal
    request_id: str
    send: Callable[[dict[str, Any] | str | ws_protocol.WireFrame], None]
    close: Callable[[int, str], None]
    state: dict[str, Any] = field(default_factory=dict)


#: frame type → handler(ctx, frame) returning a reply frame dict, or None when it replies itself.
FrameHandler = Callable[[SessionContext, ws_protocol.Frame], "dict[str, Any] | None"]
FRAME_HANDLERS: dict[str, FrameHandler] = {
    "ping": lambda ctx, frame: ws_protocol.reply("pong", frame.ref),
}
#: called with the context when a session starts (presence: the user is online).
SESSION_OPENED_HOOKS: list[Callable[[SessionContext], None]] = []
#: called with the context when a session ends, so modules can drop what the session joined.
SESSION_CLOSED_HOOKS: list[Callable[[SessionContext], None]] = []


class SessionActor(ComponentActor):
    def __init__(self, ws: Any, session_id: str, principal: Principal, request_id: str, metrics: Metrics,
                 close_socket: Callable[[Any, int, str], None], plain_frames: bool = False) -> None:
        super().__init__(f"session.{session_id}")
        self._ws = ws
        self._plain_frames = plain_frames  # no extension negotiated: shared broadcast bytes are valid here
        self._metrics = metrics
        self._close_socket = close_socket
        self._closed = False
        self._expiry: runtime.Timer | None = None
        self.context = SessionContext(session_id, principal, request_id, self._send_later, self._close_later)

    def _send_later(self, frame: dict[str, Any] | str | ws_protocol.WireFrame) -> None:
        self.actor_ref.tell(Send(frame))

    def _close_later(self, code: int, reason: str) -> None:
        self.actor_ref.tell(Close(code, reason))

    def on_start(self) -> None:
        expires_at = self.context.principal.expires_at
        if expires_at is not None:
            self._expiry = runtime.call_later(expires_at - time.time(), self._close_later, CLOSE_POLICY,
                                              "access token expired")
        self._run_hooks(SESSION_OPENED_HOOKS)

    def on_stop(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        self._run_hooks(SESSION_CLOSED_HOOKS)

    def _run_hooks(self, hooks: list[Callable[[SessionContext], None]]) -> None:
        for hook in hooks:
            try:
                hook(self.context)
            except Exception:  # noqa: BLE001 — one module's hook must not skip the others'
                logs.event(log, "session.hook_failed", logging.ERROR, exc_info=True,
                           request_id=self.context.request_id)

    def handle(self, message: Any) -> Any:
        with logs.bound(request_id=self.context.request_id, user_id=self.context.principal.user_id):
            if isinstance(message, Inbound):
                self._on_frame(message.data)
            elif isinstance(message, Send):
                self._write(message.frame)
            elif isinstance(message, Close):
                self._close(message.code, message.reason)

    def _on_frame(self, data: str | bytes) -> None:
        try:
            frame = ws_protocol.parse_frame(data)
        except ws_protocol.FrameError as exc:
            self._error(exc.error, exc.ref)
            return
        try:
            reply = FRAME_HANDLERS[frame.type](self.context, frame)
        except DomainError as exc:
            self._error(exc, frame.ref)
            return
        except Exception:  # noqa: BLE001 — a handler bug answers INTERNAL and the socket stays open
            logs.event(log, "ws.frame_failed", logging.ERROR, exc_info=True, frame_type=frame.type)
            self._error(Internal("internal error"), frame.ref)
            return
        if reply is not None:
            self._write(reply)

    def _error(self, error: DomainError, ref: str | None) -> None:
        self._metrics.incr(f"errors.{error.code}")
        logs.event(log, "ws.frame_error", logging.INFO, code=error.code, message=error.message)
        self._write(ws_protocol.error_frame(error, ref))

    def _write(self, frame: dict[str, Any] | str | ws_protocol.WireFrame) -> None:
        if self._closed:
            return
        try:
            if isinstance(frame, ws_protocol.WireFrame):
                if not (self._plain_frames and self._ws.connected):
                    self._ws.send(frame.text)  # compressed per connection, or closing: let the library decide
                else:
                    self._ws.sock.send(frame.wire)  # the broadcast's shared bytes, as they are
            else:
                self._ws.send(frame if isinstance(frame, str) else ws_protocol.encode(frame))
        except Exception as exc:  # noqa: BLE001 — the peer is gone or too slow; the reader ends the session
            self._closed = True
            logs.event(log, "ws.send_failed", logging.INFO, error=repr(exc))

    def _close(self, code: int, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        logs.event(log, "ws.closing", code=code, reason=reason)
        self._close_socket(self._ws, code, reason)
