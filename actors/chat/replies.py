"""Answering the caller of a chat command, on whichever instance it is waiting.

The writer that commits a command may run on another instance than its caller's: the shared writer
group gives each room partition to one instance at a time. A command carries its ``origin`` (the
instance id, None on the in-process broker); the writer answers a local caller directly and a remote
one through ``chat.replies``, which every instance reads with its own group, keeping its own replies.

A caller left without an answer for ``TIMEOUT_S`` (the writer instance died between reading and
committing its command) is answered UNAVAILABLE; resending the same ``client_msg_id`` then returns the
stored message if it was committed after all, or stores it now.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any, Callable

from actors.chat.batch import Outcome
from domain import jsonfmt, logs
from domain.broker import Broker, Record
from domain.errors import DomainError, Internal, Unavailable

log = logging.getLogger("confab.chat")

TOPIC = GROUP = "chat.replies"
TIMEOUT_S = 10.0
Reply = Callable[[Outcome], None]
_ERRORS = {cls.code: cls for cls in DomainError.__subclasses__()}


class Replies:
    def __init__(self, broker: Broker, instance: str | None) -> None:
        self.broker, self.instance = broker, instance
        self.pending: dict[str, Reply] = {}  # command id → the waiting caller
        self._since: dict[str, float] = {}  # command id → monotonic time it was submitted

    def expect(self, cid: str, reply: Reply) -> None:
        self.pending[cid], self._since[cid] = reply, time.monotonic()

    def forget(self, cid: str) -> None:
        self.pending.pop(cid, None)
        self._since.pop(cid, None)

    def answer(self, command: dict[str, Any], outcome: Outcome) -> None:
        """After the commit: call the local caller, or send the outcome to the caller's instance."""
        origin = command.get("origin")
        if origin is None or origin == self.instance:
            self._call(command["cid"], outcome, command.get("rid"))
            return
        body = {"cid": command["cid"], "o": origin, "r": outcome.reply,
                "e": None if outcome.error is None else outcome.error.body()["error"]}
        try:
            self.broker.publish(TOPIC, origin, jsonfmt.dumps(body).encode())
        except DomainError as exc:  # the caller times out and resends: dedup returns the stored message
            logs.event(log, "chat.reply_dropped", logging.WARNING, origin=origin, request_id=command.get("rid"),
                       error=exc.message)

    def on_record(self, record: Record) -> None:
        """A reply from another instance's writer; only this instance's own callers are answered."""
        try:
            body = json.loads(record.value)
            if body["o"] != self.instance:
                return
            self._call(body["cid"], Outcome(reply=body["r"], error=_error(body["e"])), None)
        except (ValueError, KeyError, TypeError):
            logs.event(log, "chat.bad_reply", logging.ERROR, offset=record.offset, partition=record.partition)

    def expire(self) -> None:
        """Answer UNAVAILABLE to callers that waited longer than ``TIMEOUT_S``."""
        cutoff = time.monotonic() - TIMEOUT_S
        for cid in [cid for cid, at in self._since.items() if at < cutoff]:
            logs.event(log, "chat.reply_timeout", logging.WARNING, cid=cid)
            self._call(cid, Outcome(error=Unavailable("the chat writer did not answer; retry with the same "
                                                      "client_msg_id")), None)

    def _call(self, cid: str, outcome: Outcome, request_id: str | None) -> None:
        reply = self.pending.pop(cid, None)
        self._since.pop(cid, None)
        if reply is None:
            return
        try:
            reply(outcome)
        except Exception as exc:  # noqa: BLE001 — one caller's failure must not cost the others their acks
            logs.event(log, "chat.reply_failed", logging.ERROR, exc_info=exc, request_id=request_id)


def _error(body: dict[str, Any] | None) -> DomainError | None:
    """The writer's error, rebuilt with its code, message and details."""
    if body is None:
        return None
    cls = _ERRORS.get(body["code"], Internal)
    error = cls.__new__(cls)
    DomainError.__init__(error, body["message"], body.get("details"))
    return error
