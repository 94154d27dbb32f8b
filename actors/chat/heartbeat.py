"""This instance's share of the cluster's chat state, kept alive while it runs (Redis backend only).

Every ``shared_presence.BEAT_S`` it renews this instance's presence set and answers UNAVAILABLE to
callers whose command no writer answered (``actors.chat.replies``). On a graceful stop, which comes
after the sockets closed, it empties the presence set (the broker destroys this instance's groups).
"""
from __future__ import annotations

import logging
from typing import Any

import redis

from actors import runtime
from actors.chat.service import ChatService
from actors.chat.shared_presence import BEAT_S, SharedPresence
from actors.component import ComponentActor, HealthSink
from domain import logs

log = logging.getLogger("confab.chat")


class _Beat:
    pass


class ChatHeartbeat(ComponentActor):
    def __init__(self, health_sink: HealthSink, service: ChatService, presence: SharedPresence) -> None:
        super().__init__("chat.instance", health_sink)
        self._service, self._presence = service, presence
        self._timer: runtime.Timer | None = None

    def on_start(self) -> None:
        self._beat()

    def on_stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._presence.leave()

    def handle(self, message: Any) -> Any:
        if isinstance(message, _Beat):
            self._beat()

    def _beat(self) -> None:
        self._service.replies.expire()
        try:
            self._presence.heartbeat()
            self.report_health("ok", True, instance_id=self._service.instance,
                               users_online_here=len(self._presence.online_here()),
                               awaiting_replies=len(self._service.pending))
        except redis.RedisError as exc:
            logs.event(log, "chat.heartbeat_failed", logging.WARNING, error=str(exc))
            self.report_health("degraded", True, error=str(exc))
        self._timer = runtime.call_later(BEAT_S, self.actor_ref.tell, _Beat())
