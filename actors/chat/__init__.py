"""Chat: rooms, ordered durable messages, fan-out, presence and typing (see ``actors.chat.service``).

``start_chat`` is the bootstrap's entry point; it returns the service and chat's part of every /ws
session (its frames and presence hooks).
"""
from __future__ import annotations

from dataclasses import dataclass

import pykka

from actors.chat import batch, replies, shared_presence, shared_typing
from actors.chat.shared_typing import DeadTypistsSweep, SharedTyping
from actors.chat.frames import ChatFrames
from actors.chat.heartbeat import ChatHeartbeat
from actors.chat.service import ChatService
from actors.chat.webhooks import dispatch_job
from actors.chat.writer import ChatWriter
from actors.cluster import SharedRedis, SingletonJob
from actors.session import SessionFeature
from actors.storage import HubStatements
from actors.supervisor import ChildSpec, start_child
from domain.broker import Broker
from domain.config import AppConfig
from domain.metrics import Metrics
from domain.ratelimit import LimiterFactory

__all__ = ["Chat", "ChatService", "start_chat"]


@dataclass(frozen=True)
class Chat:
    """What the chat component gives the rest of the server."""
    service: ChatService
    session: SessionFeature
    jobs: tuple[SingletonJob, ...]  # webhook dispatch; with several instances (Redis) the presence and typing sweeps too


def start_chat(supervisor: pykka.ActorRef, config: AppConfig, metrics: Metrics, broker: Broker,
               shared: SharedRedis | None, limiters: LimiterFactory) -> Chat:
    """Start the chat writer and the event consumers; returns the service, chat's part of every /ws
    session and its singleton jobs. With ``shared`` (a cluster's Redis, whatever the broker's backend)
    presence spans the instances; ``limiters`` makes the send limit (one per user across the cluster
    when it keeps its buckets in Redis)."""
    partitions = config.topic_partitions()
    service = ChatService(config.chat, metrics, broker, shared)
    service.commands.limiter = limiters("chat.send", config.chat.send_rate / config.chat.send_window_s,
                                        config.chat.send_rate)
    commits = HubStatements(lambda commands: batch.apply_batch(commands))
    service.closers.append(commits.close)
    start_child(supervisor, ChildSpec("chat", "chat", lambda sink: ChatWriter.start(
        sink, service, config.chat.group_commit_max, commits.submit)))
    jobs: list[SingletonJob] = []
    if isinstance(service.presence, shared_presence.SharedPresence):
        presence = service.presence
        broker.create_topic(replies.TOPIC, partitions["chat.events"])
        start_child(supervisor, ChildSpec("chat.instance", "chat", lambda sink: ChatHeartbeat.start(
            sink, service, presence)))
        jobs.append(SingletonJob("chat.presence", shared_presence.SWEEP_EVERY_S, presence.sweep))
        client, prefix = shared
        service.typing = SharedTyping(service.publish, config.chat.typing_ttl_s, client, prefix, service.instance)
        jobs.append(SingletonJob("chat.typing", shared_typing.SWEEP_EVERY_S,
                                 DeadTypistsSweep(client, prefix, service.publish).run))
    service.listen()
    jobs.append(dispatch_job(config.webhooks, metrics, service.publish))
    return Chat(service, ChatFrames(service).session_feature(), tuple(jobs))
