"""Chat: rooms, ordered durable messages, fan-out, presence and typing (see ``actors.chat.service``).

``start_chat`` is the bootstrap's entry point; it registers the /ws chat frames and session hooks.
"""
from __future__ import annotations

import pykka

from actors import session
from actors.broker import RedisBroker
from actors.chat import batch, replies, shared_presence
from actors.chat.frames import ChatFrames
from actors.chat.heartbeat import ChatHeartbeat
from actors.chat.service import ChatService
from actors.chat.webhooks import start_webhooks
from actors.chat.writer import ChatWriter
from actors.cluster import SingletonJob
from actors.storage import HubStatements
from actors.supervisor import ChildSpec, start_child
from domain import chat_frames
from domain.config import AppConfig
from domain.metrics import Metrics

__all__ = ["ChatService", "start_chat"]

_current: list[ChatService] = []  # the running service the session hooks report to


def start_chat(supervisor: pykka.ActorRef, config: AppConfig, metrics: Metrics, broker: object,
               jobs: list[SingletonJob]) -> ChatService:
    """Start the chat writer and the event consumers; ``jobs`` gets the webhook dispatch job, and with
    several instances (Redis) the presence sweep."""
    partitions = config.topic_partitions()
    shared = (broker.client, broker.prefix) if isinstance(broker, RedisBroker) else None
    service = ChatService(config.chat, metrics, broker, shared)  # type: ignore[arg-type]
    commits = HubStatements(lambda commands: batch.apply_batch(commands))
    service.closers.append(commits.close)
    start_child(supervisor, ChildSpec("chat", "chat", lambda sink: ChatWriter.start(
        sink, service, config.chat.group_commit_max, commits.submit)))
    if isinstance(service.presence, shared_presence.SharedPresence):
        presence = service.presence
        broker.create_topic(replies.TOPIC, partitions["chat.events"])  # type: ignore[attr-defined]
        start_child(supervisor, ChildSpec("chat.instance", "chat", lambda sink: ChatHeartbeat.start(
            sink, service, presence)))
        jobs.append(SingletonJob("chat.presence", shared_presence.SWEEP_EVERY_S, presence.sweep))
    chat_frames.register()
    session.FRAME_HANDLERS.update(ChatFrames(service).handlers())
    _current[:] = [service]
    if _session_opened not in session.SESSION_OPENED_HOOKS:
        session.SESSION_OPENED_HOOKS.append(_session_opened)
        session.SESSION_CLOSED_HOOKS.append(_session_closed)
    service.listen()
    start_webhooks(config.webhooks, metrics, service.publish, jobs)
    return service


def _session_opened(ctx: session.SessionContext) -> None:
    for service in _current:
        service.presence.opened(ctx.principal.user_id, ctx.principal.username, ctx.session_id, ctx.send)


def _session_closed(ctx: session.SessionContext) -> None:
    for service in _current:
        service.hub.drop_session(ctx.session_id)
        service.presence.closed(ctx.principal.user_id, ctx.session_id)
