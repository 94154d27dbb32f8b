"""A chat command's record is acknowledged to the broker once the writer has committed it, not when it
was queued: an instance killed between the two leaves the record pending, and the next holder of its
partition executes it again (idempotent by ``client_msg_id``) and answers its caller, in stream order,
so edits and reactions stay behind the sends that came before them.

The writer group's handler (``ChatService._on_command``) queues the command and returns; wrapped here it
returns a ``Completion`` for the command's ``cid``, which the writer completes after settling the
command (answer sent, events published). The service subscribes through the broker it is given, so the
wrapping is a broker that passes everything through but that one subscription.
"""
from __future__ import annotations

from typing import Any

import gevent.event

from domain.broker import Broker, Completion, Handler, Record
from domain.chat_events import decode_command


class CommitAcks:
    def __init__(self, topic: str, group: str) -> None:
        self.topic, self.group = topic, group
        self._waiting: dict[str, gevent.event.Event] = {}  # command id → done once settled

    def broker(self, broker: Broker) -> Broker:
        """``broker``, with the writer group's handler wrapped."""
        return _WrappedSubscription(broker, self)  # type: ignore[return-value]  # the rest passes through

    def wrap(self, handler: Handler) -> Handler:
        def handle(record: Record) -> Completion | None:
            handler(record)
            try:
                cid = decode_command(record.value)["cid"]
            except (ValueError, KeyError, TypeError):
                return None  # not a command: nothing will be committed
            return self._waiting.setdefault(cid, gevent.event.Event())
        return handle

    def settled(self, command: dict[str, Any]) -> None:
        """The writer committed ``command`` and answered it: its record may be acknowledged."""
        done = self._waiting.pop(command.get("cid", ""), None)
        if done is not None:
            done.set()


class _WrappedSubscription:
    def __init__(self, broker: Broker, acks: CommitAcks) -> None:
        self._broker, self._acks = broker, acks

    def __getattr__(self, name: str) -> Any:
        return getattr(self._broker, name)

    def subscribe(self, topic: str, group: str, handler: Handler, *, each_instance: bool = False) -> None:
        if (topic, group) == (self._acks.topic, self._acks.group):
            handler = self._acks.wrap(handler)
        self._broker.subscribe(topic, group, handler, each_instance=each_instance)
