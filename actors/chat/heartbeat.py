"""This instance's share of the cluster's chat state, kept alive while it runs (Redis backend only).

Every ``shared_presence.BEAT_S`` it renews this instance's presence set and answers UNAVAILABLE to
callers whose command no writer answered (``actors.chat.replies``). On a graceful stop, which comes
after the sockets closed, it empties the presence set (the broker destroys this instance's groups).
"""
from __future__ import annotations

import logging
import redis

from actors.chat.service import ChatService
from actors.chat.shared_presence import BEAT_S, SharedPresence
from actors.component import HealthSink, PeriodicActor
from domain import logs

log = logging.getLogger("confab.chat")


class ChatHeartbeat(PeriodicActor):
    def __init__(self, health_sink: HealthSink, service: ChatService, presence: SharedPresence) -> None:
        super().__init__("chat.instance", health_sink, BEAT_S)
        self._service, self._presence = service, presence

    def on_stop(self) -> None:
        super().on_stop()
        self._presence.leave()

    def tick(self) -> None:
        self._service.replies.expire()
        try:
            self._presence.heartbeat()
            self.report_health("ok", True, instance_id=self._service.instance,
                               users_online_here=len(self._presence.online_here()),
                               awaiting_replies=len(self._service.pending))
        except redis.RedisError as exc:
            logs.event(log, "chat.heartbeat_failed", logging.WARNING, error=str(exc))
            self.report_health("degraded", True, error=str(exc))
