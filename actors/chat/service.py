"""The chat component's glue: commands onto ``chat.commands``, the writer's group commit, events off
``chat.events`` into the local fan-out, and the replies to whoever is waiting.

Flow (ARCHITECTURE.md, chat): a command is published on ``chat.commands`` keyed by room; the
partition's consumer queues it for the writer, which applies everything queued in one transaction
(group commit), answers each sender after the commit, then publishes the events on ``chat.events``;
their consumer hands the pre-encoded frames to the hub. Replies are kept in ``pending`` by command id,
so only this process answers its own callers.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from typing import Any, Callable

import gevent.event

from actors.chat.batch import Outcome
from actors.chat.hub import RoomHub
from actors.chat.presence import Presence, Typing
from domain import logs, ws_protocol
from domain.broker import Broker, Record
from domain.chat_events import DROP_ROOM, UNSUBSCRIBE_USER, Event, decode_command, decode_event, encode_command, \
    encode_event, frame_event
from domain.config import ChatConfig
from domain.errors import DomainError, Unavailable
from domain.metrics import Metrics
from domain.ratelimit import RateLimiter

log = logging.getLogger("confab.chat")

COMMANDS, EVENTS = "chat.commands", "chat.events"
WRITER_GROUP, FANOUT_GROUP = "chat.writer", "chat.fanout"
Reply = Callable[[Outcome], None]


class ChatService:
    def __init__(self, config: ChatConfig, metrics: Metrics, broker: Broker) -> None:
        self.config, self.metrics, self.broker = config, metrics, broker
        self.hub = RoomHub()
        self.presence = Presence(self.hub)
        self.typing = Typing(self.hub, config.typing_ttl_s)
        self.limiter = RateLimiter(config.send_rate / config.send_window_s, config.send_rate)
        self.queue: deque[dict[str, Any]] = deque()  # outlives a restarted writer actor
        self.pending: dict[str, Reply] = {}
        self.kick: Callable[[], None] = lambda: None  # set by the writer actor

    def listen(self) -> None:
        self.broker.subscribe(COMMANDS, WRITER_GROUP, self._on_command)
        self.broker.subscribe(EVENTS, FANOUT_GROUP, self._on_event)

    # --- commands -----------------------------------------------------------------------------------

    def submit(self, command: dict[str, Any], reply: Reply) -> None:
        """Publish ``command``; ``reply`` is called once with its outcome, after the commit."""
        command = {**command, "cid": uuid.uuid4().hex, "ts": time.time()}
        self.pending[command["cid"]] = reply
        key = command.get("room_id") or command.get("message_id") or ""
        try:
            self.broker.publish(COMMANDS, key, encode_command(command))
        except DomainError:
            self.pending.pop(command["cid"], None)
            raise

    def execute(self, command: dict[str, Any], timeout_s: float = 10.0) -> dict[str, Any]:
        """Submit and wait (a request greenlet): the reply body, or the command's error raised."""
        result: gevent.event.AsyncResult = gevent.event.AsyncResult()
        self.submit(command, result.set)
        try:
            outcome: Outcome = result.get(timeout=timeout_s)
        except gevent.Timeout:
            logs.event(log, "chat.command_timeout", logging.WARNING, op=command["op"])
            raise Unavailable("chat writer did not answer in time") from None
        if outcome.error is not None:
            raise outcome.error
        return outcome.reply or {}

    def _on_command(self, record: Record) -> None:
        try:
            command = decode_command(record.value)
        except ValueError:
            logs.event(log, "chat.bad_command", logging.ERROR, offset=record.offset, partition=record.partition)
            return
        self.queue.append(command)
        self.kick()

    def settle(self, command: dict[str, Any], outcome: Outcome) -> None:
        """After the commit: answer the sender, then publish the events for every member."""
        reply = self.pending.pop(command["cid"], None)
        if reply is not None:
            try:
                reply(outcome)
            except Exception as exc:  # noqa: BLE001 — one caller's failure must not cost the others their acks
                logs.event(log, "chat.reply_failed", logging.ERROR, exc_info=exc, request_id=command.get("rid"))
        if outcome.created:
            self.metrics.incr("chat.messages")
        for event in outcome.events:
            self.publish(event)

    # --- events -------------------------------------------------------------------------------------

    def publish(self, event: Event) -> None:
        try:
            self.broker.publish(EVENTS, event.room_id, encode_event(event))
        except DomainError as exc:  # stored already: members catch up with since_seq
            logs.event(log, "chat.event_dropped", logging.WARNING, room_id=event.room_id, error=exc.message)

    def _on_event(self, record: Record) -> None:
        event = decode_event(record.value)
        if event.frame is not None:
            delivered = self.hub.deliver(event.room_id, event.seq, event.frame)
            if delivered and event.seq is not None:
                self.metrics.timing("chat.delivery_latency", max(0.0, time.time() * 1000 - record.timestamp))
        if event.control == UNSUBSCRIBE_USER and event.user_id:
            self.hub.unsubscribe_user(event.room_id, event.user_id)
        elif event.control == DROP_ROOM:
            self.hub.drop_room(event.room_id)

    # --- membership changes made over REST ------------------------------------------------------------

    def member_joined(self, room_id: str, user: dict[str, Any]) -> None:
        self.presence.add_room(user["id"], room_id)
        self.publish(frame_event(room_id, {"type": "user_joined", "room_id": room_id, "user": user}))

    def member_left(self, room_id: str, user_id: str) -> None:
        """Stop delivery to the user's sockets now, then tell the others (and other instances)."""
        frame = ws_protocol.encode({"type": "user_left", "room_id": room_id, "user_id": user_id})
        self.hub.unsubscribe_user(room_id, user_id, farewell=frame)
        self.presence.drop_room(user_id, room_id)
        self.publish(Event(room_id, None, frame, UNSUBSCRIBE_USER, user_id))

    def room_deleted(self, room_id: str) -> None:
        self.hub.drop_room(room_id)
        self.publish(Event(room_id, None, None, DROP_ROOM))
