"""Typing indicators across instances: the typists of an instance that died are told to have stopped.

A typist's ``is_typing: false`` comes from the instance where they type, when they say so or their
indicator expires. An instance killed (or stopped) first would never send it, and every other instance's
members would see them typing until their client gave up. So each instance records its typists in
``<prefix>:typing:<instance>`` (a hash: room and user → the user object) before announcing them, and
removes them after announcing the stop; the ``chat.typing`` singleton job, every second, announces the
stop of every typist recorded by an instance that is no longer in the cluster registry (its heartbeat
key expired: ``actors.cluster.INSTANCE_TTL_MS``, or it stopped), then drops that hash.
"""
from __future__ import annotations

import logging
from typing import Callable

import redis

from actors.chat.presence import Typing, typing_event
from actors.cluster import live_instances
from domain import jsonfmt, logs
from domain.chat_events import Event

log = logging.getLogger("confab.chat")

SWEEP_EVERY_S = 1.0


def _typists_key(prefix: str, instance: str) -> str:
    return f"{prefix}:typing:{instance}"


class SharedTyping(Typing):
    """This instance's typists, also recorded in Redis for the sweep of a dead instance's."""

    def __init__(self, publish: Callable[[Event], None], ttl_s: float, client: redis.Redis, prefix: str,
                 instance: str) -> None:
        super().__init__(publish, ttl_s)
        self._client, self._key = client, _typists_key(prefix, instance)

    def _tell(self, room_id: str, user: dict[str, str], is_typing: bool) -> None:
        field = f"{room_id} {user['id']}"
        if is_typing:  # recorded first: an instance dying after the announcement leaves the record
            self._record("hset", lambda: self._client.hset(self._key, field, jsonfmt.dumpb(user)))
        super()._tell(room_id, user, is_typing)
        if not is_typing:
            self._record("hdel", lambda: self._client.hdel(self._key, field))

    def _record(self, op: str, write: Callable[[], object]) -> None:
        """Typing must not fail on Redis: at worst a dead instance's typist is left to the clients."""
        try:
            write()
        except redis.RedisError as exc:
            logs.event(log, "chat.typing_redis_failed", logging.WARNING, op=op, error=str(exc))


class DeadTypistsSweep:
    """The ``chat.typing`` singleton job."""

    def __init__(self, client: redis.Redis, prefix: str, publish: Callable[[Event], None]) -> None:
        self._client, self._prefix, self._publish = client, prefix, publish

    def run(self) -> None:
        live = live_instances(self._client, self._prefix)
        for key in self._client.scan_iter(_typists_key(self._prefix, "*"), count=1000):
            instance = key.decode().rsplit(":", 1)[1]
            if instance in live:
                continue
            typists = self._client.hgetall(key)
            for field, user in typists.items():
                room_id = field.decode().split(" ", 1)[0]
                self._publish(typing_event(room_id, jsonfmt.loads(user), False))
            self._client.delete(key)  # after publishing: a crash repeats the stops, never loses them
            logs.event(log, "chat.dead_typists_stopped", instance=instance, typists=len(typists))
