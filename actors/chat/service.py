"""The chat component's glue: commands onto ``chat.commands``, the writer's group commit, events off
``chat.events`` into the local fan-out, and the replies to whoever is waiting.

Flow (docs/architecture.md, chat): a command is published on ``chat.commands`` keyed by room; the
partition's consumer queues it for the writer, which applies everything queued in one transaction
(group commit), answers each sender after the commit (``actors.chat.replies``), then publishes the
events on ``chat.events``; their consumer hands the pre-encoded frames to the hub.

With several instances on Redis, ``chat.writer`` stays one shared group, so a command is committed
once, and a room partition is written by one instance at a time, which keeps each room's events in
seq order (the join seam in ``actors.chat.hub`` relies on it). Events, replies and presence changes
are read by a group per instance (``each_instance``), so every instance's sessions see them.
An event with a ``user_id`` and no control action is that user's own doing (typing): their sessions
are skipped.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from typing import Any, Callable

import gevent.event
import redis

from actors.chat import replies, shared_presence
from actors.chat.batch import Outcome
from actors.chat.commands import Commands
from actors.chat.hub import RoomHub
from actors.chat.presence import Presence, Typing
from actors.chat.shared_presence import SharedPresence
from domain import logs, ws_protocol
from domain.broker import Broker, Completion, Record
from domain.chat_events import DROP_ROOM, TO_USER, UNSUBSCRIBE_USER, Event, decode_command, decode_event, \
    encode_command, encode_event
from domain.config import ChatConfig
from domain.errors import DomainError, Unavailable
from domain.metrics import Metrics
from domain.ratelimit import RateLimiter
from storage import chat as rooms
from storage.chat_messages import messages_between
from storage.db import reading

log = logging.getLogger("confab.chat")

COMMANDS, EVENTS = "chat.commands", "chat.events"
WRITER_GROUP, FANOUT_GROUP, PRESENCE_GROUP = "chat.writer", "chat.fanout", "chat.presence"
Reply = replies.Reply
GAP_FILL_MAX = 1000  # a longer gap is left to the clients' since_seq


class ChatService:
    def __init__(self, config: ChatConfig, metrics: Metrics, broker: Broker,
                 shared: tuple[redis.Redis, str] | None = None) -> None:
        """``shared``: the Redis client and key prefix of a cluster's presence; None on one instance."""
        self.config, self.metrics, self.broker, self.instance = config, metrics, broker, broker.instance_id
        self.hub = RoomHub()
        self.presence: Presence = Presence(self.hub) if shared is None else \
            SharedPresence(self.hub, broker, shared[0], shared[1], self.instance)
        self.typing = Typing(self.publish, config.typing_ttl_s)
        self.commands = Commands(config, RateLimiter(config.send_rate / config.send_window_s, config.send_rate))
        self.queue: deque[dict[str, Any]] = deque()  # outlives a restarted writer actor
        self.replies = replies.Replies(broker, self.instance)
        self.pending = self.replies.pending  # the callers waiting for an answer, by command id
        self.kick: Callable[[], None] = lambda: None  # set by the writer actor
        self._settled: dict[str, gevent.event.Event] = {}  # command id → set once settled (see _on_command)
        self.closers: list[Callable[[], None]] = []  # run by ``close``, after every actor has stopped

    def close(self) -> None:
        """The process is stopping and the writer is gone: release what it committed with."""
        for closer in self.closers:
            closer()

    def listen(self) -> None:
        self.broker.subscribe(COMMANDS, WRITER_GROUP, self._on_command)
        self.broker.subscribe(EVENTS, FANOUT_GROUP, self._on_event, each_instance=True)
        if isinstance(self.presence, SharedPresence):
            self.broker.subscribe(replies.TOPIC, replies.GROUP, self.replies.on_record, each_instance=True)
            self.broker.subscribe(shared_presence.TOPIC, PRESENCE_GROUP, self.presence.on_event, each_instance=True)

    # --- commands -----------------------------------------------------------------------------------

    def submit(self, command: dict[str, Any], reply: Reply) -> None:
        """Publish ``command``; ``reply`` is called once with its outcome, after the commit."""
        command = {**command, "cid": uuid.uuid4().hex, "ts": time.time(), "origin": self.instance}
        self.replies.expect(command["cid"], reply)
        key = command.get("room_id") or command.get("message_id") or ""
        try:
            self.broker.publish(COMMANDS, key, encode_command(command))
        except DomainError:
            self.replies.forget(command["cid"])
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

    def _on_command(self, record: Record) -> Completion | None:
        """Queue the command for the writer. Its record is acknowledged to the broker once the writer has
        settled it (the ``Completion``), not when queued: an instance killed in between leaves the record
        pending, and the next holder of the partition executes it again (idempotent by ``client_msg_id``)
        and answers its caller, in stream order, so edits and reactions stay behind earlier sends."""
        try:
            command = decode_command(record.value)
        except ValueError:
            logs.event(log, "chat.bad_command", logging.ERROR, offset=record.offset, partition=record.partition)
            return None
        cid = command.get("cid")
        done = self._settled.setdefault(cid, gevent.event.Event()) if cid else None
        self.queue.append(command)
        self.kick()
        return done

    def settle(self, command: dict[str, Any], outcome: Outcome) -> None:
        """After the commit: answer the sender, then publish the events for every member."""
        self.replies.answer(command, outcome)
        if outcome.created:
            self.metrics.incr("chat.messages")
        for event in outcome.events:
            self.publish(event)
        done = self._settled.pop(command.get("cid", ""), None)
        if done is not None:  # its record may be acknowledged now
            done.set()

    # --- events -------------------------------------------------------------------------------------

    def publish(self, event: Event) -> None:
        try:
            self.broker.publish(EVENTS, event.room_id, encode_event(event))
        except DomainError as exc:  # stored already: members catch up with since_seq
            logs.event(log, "chat.event_dropped", logging.WARNING, room_id=event.room_id, error=exc.message)

    def _on_event(self, record: Record) -> None:
        event = decode_event(record.value)
        if event.control == TO_USER:
            if event.frame is not None and event.user_id:
                self.presence.send_to_user(event.user_id, event.frame)
            return
        if event.seq is not None:
            self._fill_gap(event.room_id, event.seq)
        if event.frame is not None:
            skip = event.user_id if event.control is None else None  # a typist does not see their own typing
            delivered = self.hub.deliver(event.room_id, event.seq, event.frame, skip_user=skip)
            if delivered and event.seq is not None:
                self.metrics.timing("chat.delivery_latency", max(0.0, time.time() * 1000 - record.timestamp))
        if event.control == UNSUBSCRIBE_USER and event.user_id:
            self.hub.unsubscribe_user(event.room_id, event.user_id)
        elif event.control == DROP_ROOM:
            self.hub.drop_room(event.room_id)

    def _fill_gap(self, room_id: str, seq: int) -> None:
        """Deliver from storage the messages whose events never came (see ``actors.chat.hub``)."""
        last = self.hub.gap(room_id, seq)
        if last is None:
            return
        with reading():
            missing = messages_between(room_id, after_seq=last, limit=min(seq - last - 1, GAP_FILL_MAX))
        logs.event(log, "chat.gap_filled", logging.WARNING, room_id=room_id, after_seq=last, before_seq=seq,
                   found=len(missing))
        for message in missing:
            if message["seq"] < seq:
                self.hub.deliver(room_id, message["seq"], ws_protocol.encode({"type": "new_message",
                                                                              "message": message}))

    # --- membership ----------------------------------------------------------------------------------

    def join(self, user: dict[str, Any], room_id: str) -> tuple[dict[str, Any], bool]:
        """Join a public room, over REST or /ws alike: (the room, newly a member). A member's join is a
        read; a new member is written by the writer's group commit (a connection storm of joins costs
        a few commits, not one fsync each), whose event tells the room (``user_joined``)."""
        room = rooms.member_room(user["id"], room_id)
        if room is not None:
            return room, False
        reply = self.execute({"op": "join", "room_id": room_id, "user_id": user["id"],
                              "username": user.get("username")})
        if reply["newly"]:
            self._announce_member(room_id, user)
        return reply["room"], reply["newly"]

    def member_invited(self, room_id: str, user: dict[str, Any]) -> None:
        """Someone else added ``user``: the room is told as for a join, and every socket of the user
        too (they have joined nothing of this room yet), so their clients can list it at once."""
        frame = ws_protocol.encode({"type": "user_joined", "room_id": room_id, "user": user})
        self.publish(Event(room_id, None, frame))
        self.publish(Event(room_id, None, frame, TO_USER, user["id"]))
        self._announce_member(room_id, user)

    def _announce_member(self, room_id: str, user: dict[str, Any]) -> None:
        """A new member who is online is announced as such: members only hear of status changes in
        rooms they share with the user."""
        self.presence.add_room(user["id"], room_id)
        self.presence.introduce(user["id"], user.get("username"), room_id)

    def member_left(self, room_id: str, user_id: str) -> None:
        """Stop delivery to the user's sockets now, then tell the others (and other instances)."""
        frame = ws_protocol.encode({"type": "user_left", "room_id": room_id, "user_id": user_id})
        self.hub.unsubscribe_user(room_id, user_id, farewell=frame)
        self.presence.drop_room(user_id, room_id)
        self.publish(Event(room_id, None, frame, UNSUBSCRIBE_USER, user_id))

    def room_deleted(self, room_id: str) -> None:
        self.hub.drop_room(room_id)
        self.publish(Event(room_id, None, None, DROP_ROOM))
