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
closed with 4429. Which frames a session understands is what the bootstrap gave it: a ``Router``
built from each feature's ``SessionFeature`` (its frames, each a schema and a handler, and what it does
when a session opens and closes).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from marshmallow import Schema

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
    client_ip: str | None = None  # of the upgrade request, for the audit log


#: a frame's handler: it returns the reply frame, or None when it replies itself (or not at all)
FrameHandler = Callable[[SessionContext, ws_protocol.Frame], "dict[str, Any] | None"]
SessionHook = Callable[[SessionContext], None]


@dataclass(frozen=True)
class Route:
    """How one frame type is validated (the schema of the whole frame) and handled."""
    schema: Schema
    handler: FrameHandler
    free: bool = False  # neither writes nor broadcasts: outside the per-user frame budget


@dataclass(frozen=True)
class SessionFeature:
    """What one feature plugs into every /ws session: its frames, and what it does when a session
    opens (presence: the user is online) and closes (drop what the session joined)."""
    routes: Mapping[str, Route]
    opened: SessionHook | None = None
    closed: SessionHook | None = None


def _pong(ctx: SessionContext, frame: ws_protocol.Frame) -> dict[str, Any]:
    return ws_protocol.reply("pong", frame.ref)


class Router:
    """Every frame type a session understands, from the features the bootstrap started, plus ``ping``."""

    def __init__(self, features: Iterable[SessionFeature]) -> None:
        features = list(features)
        self.routes: dict[str, Route] = {"ping": Route(ws_protocol.PingFrame(), _pong, free=True)}
        for feature in features:
            taken = self.routes.keys() & feature.routes.keys()
            if taken:
                raise ValueError(f"frame types handled twice: {sorted(taken)}")
            self.routes.update(feature.routes)
        self.schemas = {frame_type: route.schema for frame_type, route in self.routes.items()}
        self.opened = [feature.opened for feature in features if feature.opened is not None]
        self.closed = [feature.closed for feature in features if feature.closed is not None]


@dataclass(frozen=True)
class FrameLimits:
    """The per-user budget of frames that write or broadcast, and the refusals in a row that close."""
    budget: RateLimiter
    close_after: int


class Session:
    def __init__(self, sink: Sink, session_id: str, principal: Principal, request_id: str,
                 metrics: Metrics, limits: FrameLimits, router: Router, batched_presence: bool = False,
                 client_ip: str | None = None) -> None:
        self._sink = sink
        self._router = router
        self._metrics = metrics
        self._limits = limits
        self._refused = 0  # rate-limited frames in a row
        self._expiry: runtime.Timer | None = None
        self.context = SessionContext(session_id, principal, request_id, self.send, self.close,
                                      batched_presence=batched_presence, client_ip=client_ip)

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
        self._run_hooks(self._router.opened)

    def stop(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        self._run_hooks(self._router.closed)

    def _run_hooks(self, hooks: list[SessionHook]) -> None:
        for hook in hooks:
            try:
                hook(self.context)
            except Exception:  # noqa: BLE001 — one module's hook must not skip the others'
                logs.event(log, "session.hook_failed", logging.ERROR, exc_info=True,
                           request_id=self.context.request_id)

    def handle(self, data: str | bytes) -> None:
        """One frame from the client: validated, handled, answered (an error frame for anything wrong)."""
        try:
            frame = ws_protocol.parse_frame(data, self._router.schemas)
        except ws_protocol.FrameError as exc:
            self._error(exc.error, exc.ref)
            return
        route = self._router.routes[frame.type]
        self._metrics.incr(f"ws.frames.{frame.type}")
        try:
            if not route.free:
                wait = self._limits.budget.check(self.context.principal.user_id)
                if wait:
                    raise RateLimited(wait, "too many frames; slow down")
            reply = route.handler(self.context, frame)
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
        if not route.free:
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
