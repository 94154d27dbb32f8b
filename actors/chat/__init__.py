"""Chat: rooms, ordered durable messages, fan-out, presence and typing (see ``actors.chat.service``).

``start_chat`` is the bootstrap's entry point; it registers the /ws chat frames and session hooks.
"""
from __future__ import annotations

import pykka

from actors import session
from actors.chat.frames import ChatFrames
from actors.chat.service import ChatService
from actors.chat.writer import ChatWriter
from actors.supervisor import ChildSpec, start_child
from domain import chat_frames
from domain.config import AppConfig
from domain.metrics import Metrics

__all__ = ["ChatService", "start_chat"]

_current: list[ChatService] = []  # the running service the session hooks report to


def start_chat(supervisor: pykka.ActorRef, config: AppConfig, metrics: Metrics, broker: object) -> ChatService:
    service = ChatService(config.chat, metrics, broker)  # type: ignore[arg-type]
    start_child(supervisor, ChildSpec("chat", "chat", lambda sink: ChatWriter.start(
        sink, service, config.chat.group_commit_max)))
    chat_frames.register()
    session.FRAME_HANDLERS.update(ChatFrames(service).handlers())
    _current[:] = [service]
    if _session_opened not in session.SESSION_OPENED_HOOKS:
        session.SESSION_OPENED_HOOKS.append(_session_opened)
        session.SESSION_CLOSED_HOOKS.append(_session_closed)
    service.listen()
    return service


def _session_opened(ctx: session.SessionContext) -> None:
    for service in _current:
        service.presence.opened(ctx.principal.user_id, ctx.principal.username, ctx.session_id)


def _session_closed(ctx: session.SessionContext) -> None:
    for service in _current:
        service.hub.drop_session(ctx.session_id)
        service.presence.closed(ctx.principal.user_id, ctx.session_id)
