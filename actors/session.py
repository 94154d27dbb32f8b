"""One session per /ws socket: its state, and the one place its frames are handled.

The socket's own greenlet is the session's actor: it alone reads the socket and hands each frame to
``Session.handle``, in order, so the session's state needs no lock; its mailbox is the socket itself,
so a client that floods frames is slowed down by TCP instead of queued in memory. Everything else
reaches a session only in ways that never wait: frames pushed into its socket's outbox (``send``,
already encoded, shared by every recipient of a broadcast) and ``close``. A Pykka actor per socket
would add a greenlet and an inbox (13.7 KB per socket, measured: a third of a socket's whole budget)
and a hop per frame for every broadcast.

Every frame that writes or broadcasts is taken from one budget per user (all their sockets, /ws and
/yjs): past it the frame is answered RATE_LIMITED, and a socket refused that many times in a row is
closed with 4429. Frame handlers are registered per frame type by the modules that own them (chat,
documents).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from actors import runtime
from domain import logs, ws_protocol
from domain.auth import Principal
from domain.errors import DomainError, Internal, RateLimited
from domain.metrics import Metrics
from domain.ratelimit import RateLimiter
from domain.ws_protocol import CLOSE_POLICY, CLOSE_RATE_LIMITED, Sink, WireFrame
from storage.unavailable import STORAGE_DOWN, storage_unavailable

log = logging.getLogger("confab.session")


@dataclass
class SessionContext:
    """What a frame handler knows about the session it serves."""
    session_id: str
    principal: Principal
    request_id: str
    send: Callable[[dict[str, Any] | WireFrame], bool]
    close: Callable[[int, str], None]
    state: dict[str, Any] = field(default_factory=dict)
    batched_presence: bool = False  # asked for with /ws?presence=batched: user_statuses frames


#: frame type → handler(ctx, frame) returning a reply frame dict, or None when it replies itself.
FrameHandler = Callable[[SessionContext, ws_protocol.Frame], "dict[str, Any] | None"]
FRAME_HANDLERS: dict[str, FrameHandler] = {
    "ping": lambda ctx, frame: ws_protocol.reply("pong", frame.ref),
}
#: frames that neither write nor broadcast: free of the per-user frame budget
FREE_FRAMES = frozenset({"ping", "leave_room", "leave_document"})


@dataclass(frozen=True)
class FrameLimits:
    """The per-user budget of frames that write or broadcast, and the refusals in a row that close."""
    budget: RateLimiter
    close_after: int


#: called with the context when a session starts (presence: the user is online).
SESSION_OPENED_HOOKS: list[Callable[[SessionContext], None]] = []
#: called with the context when a session ends, so modules can drop what the session joined.
SESSION_CLOSED_HOOKS: list[Callable[[SessionContext], None]] = []


class Session:
    def __init__(self, sink: Sink, session_id: str, principal: Principal, request_id: str,
                 metrics: Metrics, limits: FrameLimits, batched_presence: bool = False) -> None:
        self._sink = sink
        self._metrics = metrics
        self._limits = limits
        self._refused = 0  # rate-limited frames in a row
        self._expiry: runtime.Timer | None = None
        self.context = SessionContext(session_id, principal, request_id, self.send, self.close,
                                      batched_presence=batched_presence)

    def send(self, frame: dict[str, Any] | WireFrame) -> bool:
        """Queue a frame for the client (a dict is encoded here); False once the socket is closing."""
        return self._sink.send(frame if isinstance(frame, WireFrame) else WireFrame(ws_protocol.encode(frame)))

    def close(self, code: int, reason: str) -> None:
        logs.event(log, "ws.closing", code=code, reason=reason, session_id=self.context.session_id)
        self._sink.close(code, reason)

    def start(self) -> None:
        expires_at = self.context.principal.expires_at
        if expires_at is not None:
            self._expiry = runtime.call_later_in_hub(expires_at - time.time(), self.close, CLOSE_POLICY,
                                                     "access token expired")
        self._run_hooks(SESSION_OPENED_HOOKS)

    def stop(self) -> None:
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

    def handle(self, data: str | bytes) -> None:
        """One frame from the client: validated, handled, answered (an error frame for anything wrong)."""
        try:
            frame = ws_protocol.parse_frame(data)
        except ws_protocol.FrameError as exc:
            self._error(exc.error, exc.ref)
            return
        try:
            if frame.type not in FREE_FRAMES:
                wait = self._limits.budget.check(self.context.principal.user_id)
                if wait:
                    raise RateLimited(wait, "too many frames; slow down")
            reply = FRAME_HANDLERS[frame.type](self.context, frame)
        except DomainError as exc:
            self._error(exc, frame.ref)
            return
        except STORAGE_DOWN as exc:  # the database is down, full or locked: the client retries
            self._error(storage_unavailable(exc, log, frame_type=frame.type), frame.ref)
            return
        except Exception:  # noqa: BLE001 — a handler bug answers INTERNAL and the socket stays open
            logs.event(log, "ws.frame_failed", logging.ERROR, exc_info=True, frame_type=frame.type)
            self._error(Internal("internal error"), frame.ref)
            return
        if frame.type not in FREE_FRAMES:
            self._refused = 0  # "in a row" counts the frames that cost: a ping in between is no relief
        if reply is not None:
            self.send(reply)

    def _error(self, error: DomainError, ref: str | None) -> None:
        self._metrics.incr(f"errors.{error.code}")
        logs.event(log, "ws.frame_error", logging.INFO, code=error.code, message=error.message)
        self.send(ws_protocol.error_frame(error, ref))
        if isinstance(error, RateLimited):
            self._refused += 1
            if self._refused >= self._limits.close_after:
                self.close(CLOSE_RATE_LIMITED, "rate limit exceeded")
