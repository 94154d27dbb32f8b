"""Presence across instances: a user is online while any instance has a socket of theirs.

Each instance keeps the set ``<prefix>:online:<instance>`` of its users with an open socket, renewed
by a heartbeat with a TTL: a killed instance's set expires by itself. One instance at a time (the
``chat.presence`` singleton job) compares the union of those sets with the set it last announced
(``<prefix>:presence:announced``, in Redis so the job can move), stores ``last_seen`` for those who
left and publishes each change on the ``presence`` topic with the user's rooms; every instance's own
group delivers the ``user_status`` frame to its sessions sharing one of those rooms. So a change is
seen within about a second, and a dead instance's users go offline within ``TTL_MS`` plus a sweep.
"""
from __future__ import annotations

import logging
from typing import Any

import redis

from actors.chat.hub import RoomHub
from actors.chat.presence import Presence, save_last_seen, status_frame
from domain import jsonfmt, logs, ws_protocol
from domain.broker import Broker, Record
from domain.errors import Unavailable
from storage.models import RoomMember, User, utcnow
from storage.db import reading

log = logging.getLogger("confab.chat")

TOPIC = "presence"
TTL_MS = 5000
BEAT_S = 1.0
SWEEP_EVERY_S = 1.0


class SharedPresence(Presence):
    def __init__(self, hub: RoomHub, broker: Broker, client: redis.Redis, prefix: str, instance: str) -> None:
        super().__init__(hub)
        self._broker, self._client = broker, client
        self._key, self._pattern = f"{prefix}:online:{instance}", f"{prefix}:online:*"
        self._announced = f"{prefix}:presence:announced"

    # --- this instance's set ------------------------------------------------------------------------

    def _went_online(self, user_id: str, username: str) -> None:
        self._redis("sadd", user_id, lambda pipe: pipe.sadd(self._key, user_id).pexpire(self._key, TTL_MS))

    def _went_offline(self, user_id: str) -> None:
        self._redis("srem", user_id, lambda pipe: pipe.srem(self._key, user_id))

    def _redis(self, op: str, user_id: str, build: Any) -> None:
        """A session hook must not fail on Redis: the next heartbeat repairs the set."""
        try:
            build(self._client.pipeline(transaction=False)).execute()
        except redis.RedisError as exc:
            logs.event(log, "chat.presence_redis_failed", logging.WARNING, op=op, user_id=user_id, error=str(exc))

    def heartbeat(self) -> None:
        """Renew the TTL and make the set match the open sockets (repairs a failed hook)."""
        stored = {member.decode() for member in self._client.smembers(self._key)}
        users = list(self._sessions)  # read after the only yield: hooks update memory before Redis
        pipe = self._client.pipeline(transaction=True)
        if stored - set(users):
            pipe.srem(self._key, *(stored - set(users)))
        if users:
            pipe.sadd(self._key, *users)
        pipe.pexpire(self._key, TTL_MS)
        pipe.execute()

    def leave(self) -> None:
        """Graceful shutdown: this instance's users are no longer online through it."""
        try:
            self._client.delete(self._key)
        except redis.RedisError as exc:
            logs.event(log, "chat.presence_redis_failed", logging.WARNING, op="delete", error=str(exc))

    def online(self) -> list[str]:
        try:
            return sorted(member.decode() for member in self._union())
        except redis.RedisError as exc:
            raise Unavailable("presence store unreachable") from exc

    def introduce(self, user_id: str, username: str | None, room_id: str) -> None:
        """A new member who is online (on any instance) is announced to the room on every instance."""
        if self.is_online(user_id):
            body = {"user_id": user_id, "rooms": [room_id], "frame": status_frame(user_id, username, "online", utcnow())}
            try:
                self._broker.publish(TOPIC, user_id, jsonfmt.dumpb(body))
            except Unavailable as exc:  # only an announcement: members see the status at the next change
                logs.event(log, "chat.presence_publish_failed", logging.WARNING, user_id=user_id, error=exc.message)

    def is_online(self, user_id: str) -> bool:
        """Here (no round trip), or on any instance."""
        if user_id in self._sessions:
            return True
        try:
            return user_id.encode() in self._union()
        except redis.RedisError:
            return False

    def online_here(self) -> list[str]:
        """Users with a socket on this instance."""
        return super().online()

    def _union(self) -> set[bytes]:
        keys = list(self._client.scan_iter(self._pattern, count=1000))
        return set(self._client.sunion(keys)) if keys else set()

    # --- the singleton sweep and the delivery of its announcements ----------------------------------

    def sweep(self) -> None:
        """Announce who came online and who went offline since the last sweep (a singleton job)."""
        current = {member.decode() for member in self._union()}
        announced = {member.decode() for member in self._client.smembers(self._announced)}
        came, went = current - announced, announced - current
        if not came and not went:
            return
        names, rooms = _lookup(came | went)
        now = utcnow()
        save_last_seen({user_id: now for user_id in went})
        for user_id, status in [(u, "online") for u in came] + [(u, "offline") for u in went]:
            body = {"user_id": user_id, "rooms": sorted(rooms.get(user_id, ())),
                    "frame": status_frame(user_id, names.get(user_id), status, now)}
            self._broker.publish(TOPIC, user_id, jsonfmt.dumpb(body))
        pipe = self._client.pipeline(transaction=True)  # after publishing: a crash repeats, never loses
        pipe.delete(self._announced)
        if current:
            pipe.sadd(self._announced, *current)
        pipe.execute()

    def on_event(self, record: Record) -> None:
        try:
            body = jsonfmt.loads(record.value)
            user_id, rooms, frame = body["user_id"], set(body["rooms"]), ws_protocol.encode(body["frame"])
        except (ValueError, KeyError, TypeError):
            logs.event(log, "chat.bad_presence_event", logging.ERROR, offset=record.offset,
                       partition=record.partition)
            return
        self._hub.deliver_to_rooms(rooms, frame, skip_user=user_id)


def _lookup(user_ids: set[str]) -> tuple[dict[str, str], dict[str, set[str]]]:
    """Usernames and room memberships of ``user_ids``, in two queries."""
    rooms: dict[str, set[str]] = {}
    with reading():
        names = {u.id: u.username for u in User.select(User.id, User.username).where(User.id.in_(list(user_ids)))}
        for member in RoomMember.select(RoomMember.user, RoomMember.room).where(RoomMember.user.in_(list(user_ids))):
            rooms.setdefault(member.user_id, set()).add(member.room_id)
    return names, rooms
