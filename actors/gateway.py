"""The gateway component: the registry of live WebSocket sessions.

It answers which sessions exist (for closing a user's sockets when a key is revoked, and every
socket with 1012 at shutdown), admits at most ``max_per_user`` sockets per user, publishes the
``ws.sessions`` and ``users.connected`` gauges, and reports the gateway's health. A session is reached
through its ``close`` (which never waits), so the registry never waits on one.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Protocol

import pykka

from actors import runtime
from actors.component import ComponentActor, HealthSink
from actors.supervisor import ChildHandle, ChildSpec, start_child
from domain.metrics import Metrics
from domain.ws_protocol import CLOSE_RATE_LIMITED, CLOSE_SERVICE_RESTART


class Closable(Protocol):
    def close(self, code: int, reason: str) -> None: ...


@dataclass(frozen=True)
class Register:
    """Ask: None when admitted, else the (close code, reason) to refuse the socket with."""
    session_id: str
    user_id: str
    api_key_id: str | None
    session: Closable
    family_id: str | None = None  # the login its access token belongs to


@dataclass(frozen=True)
class Unregister:
    session_id: str


@dataclass(frozen=True)
class CloseSessions:
    """Close matching sessions (all when every filter is None); ``stop_accepting`` is for shutdown."""
    code: int
    reason: str
    user_id: str | None = None
    api_key_ids: frozenset[str] | None = None
    family_ids: frozenset[str] | None = None
    stop_accepting: bool = False

    def matches(self, entry: Register) -> bool:
        return (self.user_id in (None, entry.user_id)
                and (self.api_key_ids is None or entry.api_key_id in self.api_key_ids)
                and (self.family_ids is None or entry.family_id in self.family_ids))


@dataclass(frozen=True)
class SessionCounts:
    """Ask: how many sessions are open (for /health and the shutdown's wait)."""


@dataclass(frozen=True)
class UserSessions:
    """Ask: the sessions of one user (to reach every socket of that user)."""
    user_id: str


class SessionTable:
    """The registry's state, kept outside the actor so a restarted gateway still knows every socket."""

    def __init__(self) -> None:
        self.sessions: dict[str, Register] = {}
        self.users: Counter[str] = Counter()
        self.accepting = True


#: gauges and health follow the session count at most this often: 10,000 sockets connecting at once
#: must not become 10,000 health reports queued at the supervisor.
PUBLISH_EVERY_S = 0.25


class _Publish:
    pass


class GatewayActor(ComponentActor):
    def __init__(self, health_sink: HealthSink, metrics: Metrics, table: SessionTable, max_per_user: int) -> None:
        super().__init__("gateway", health_sink)
        self._metrics = metrics
        self._table = table
        self._max_per_user = max_per_user
        self._publish_timer: runtime.Timer | None = None

    def on_start(self) -> None:
        self._publish()

    def on_stop(self) -> None:
        if self._publish_timer is not None:
            self._publish_timer.cancel()

    def _publish_soon(self) -> None:
        if self._publish_timer is None:
            self._publish_timer = runtime.call_later(PUBLISH_EVERY_S, self.actor_ref.tell, _Publish())

    def handle(self, message: Any) -> Any:
        if isinstance(message, Register):
            if not self._table.accepting:
                return CLOSE_SERVICE_RESTART, "server restarting"
            if self._max_per_user and self._table.users[message.user_id] >= self._max_per_user:
                self._metrics.incr("ws.refused_too_many")
                return CLOSE_RATE_LIMITED, "too many connections"
            self._table.sessions[message.session_id] = message
            self._table.users[message.user_id] += 1
            self._publish_soon()
            return None
        if isinstance(message, Unregister):
            entry = self._table.sessions.pop(message.session_id, None)
            if entry is not None:
                self._table.users[entry.user_id] -= 1
                if self._table.users[entry.user_id] <= 0:
                    del self._table.users[entry.user_id]
                self._publish_soon()
            return None
        if isinstance(message, _Publish):
            self._publish_timer = None
            self._publish()
            return None
        if isinstance(message, CloseSessions):
            if message.stop_accepting:
                self._table.accepting = False
            closed = 0
            for entry in list(self._table.sessions.values()):
                if message.matches(entry):
                    entry.session.close(message.code, message.reason)
                    closed += 1
            self._publish()
            return closed
        if isinstance(message, SessionCounts):
            return self._stats()
        if isinstance(message, UserSessions):
            return [entry.session for entry in self._table.sessions.values() if entry.user_id == message.user_id]
        return None

    def _stats(self) -> dict[str, Any]:
        table = self._table
        return {"sessions": len(table.sessions), "users": len(table.users), "accepting": table.accepting}

    def _publish(self) -> None:
        stats = self._stats()
        self._metrics.gauge("ws.sessions", stats["sessions"])
        self._metrics.gauge("users.connected", stats["users"])
        self.report_health("ok" if stats["accepting"] else "degraded", stats["accepting"], **stats)


def start_gateway(supervisor: pykka.ActorRef, metrics: Metrics, max_per_user: int) -> ChildHandle:
    """``max_per_user``: sockets (/ws and /yjs together) one user may hold open; 0 for no limit."""
    table = SessionTable()
    return start_child(supervisor, ChildSpec("gateway", "gateway", lambda sink: GatewayActor.start(
        sink, metrics, table, max_per_user)))
