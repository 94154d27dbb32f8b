"""Presence (online while at least one socket is open, ``last_seen`` when the last closes) and typing
indicators (ephemeral: they expire by themselves after ``typing_ttl_s`` without a refresh).

Both are told to the sessions that share a joined room with the user, each frame encoded once.
"""
from __future__ import annotations

import logging
from datetime import datetime

from actors import runtime
from actors.chat.hub import RoomHub
from domain import logs, ws_protocol
from storage.chat_models import RoomMember
from storage.db import reading, unit_of_work
from storage.models import User, utcnow

log = logging.getLogger("confab.chat")


class Presence:
    def __init__(self, hub: RoomHub, flush_after_s: float = 0.2) -> None:
        self._hub = hub
        self._sessions: dict[str, set[str]] = {}  # user → open session ids
        self._rooms: dict[str, set[str]] = {}  # user → rooms they are a member of (who to tell)
        self._names: dict[str, str] = {}
        self._seen: dict[str, datetime] = {}  # last_seen values not yet stored
        self._flush_after_s = flush_after_s
        self._flush: runtime.Timer | None = None

    def opened(self, user_id: str, username: str, session_id: str) -> None:
        sessions = self._sessions.setdefault(user_id, set())
        sessions.add(session_id)
        if len(sessions) == 1:
            self._names[user_id] = username
            with reading():
                self._rooms[user_id] = {m.room_id for m in RoomMember.select(RoomMember.room)
                                        .where(RoomMember.user == user_id)}
            self._announce(user_id, "online", None)

    def closed(self, user_id: str, session_id: str) -> None:
        sessions = self._sessions.get(user_id)
        if sessions is None:
            return
        sessions.discard(session_id)
        if sessions:
            return
        del self._sessions[user_id]
        seen = self._seen[user_id] = utcnow()
        if self._flush is None:
            self._flush = runtime.call_later(self._flush_after_s, self._store_last_seen)
        self._announce(user_id, "offline", seen)
        self._rooms.pop(user_id, None)
        self._names.pop(user_id, None)

    def _store_last_seen(self) -> None:
        """One transaction (one fsync) for every user who went offline since the last one: a thousand
        sockets dropping at once must not stall the hub with a thousand commits."""
        seen, self._seen, self._flush = self._seen, {}, None
        try:
            with unit_of_work():
                for user_id, stamp in seen.items():
                    User.update(last_seen=stamp).where(User.id == user_id).execute()
        except Exception as exc:  # noqa: BLE001 — a lost last_seen is only stale
            logs.event(log, "chat.last_seen_failed", logging.WARNING, users=len(seen), error=repr(exc))

    def add_room(self, user_id: str, room_id: str) -> None:
        if user_id in self._rooms:
            self._rooms[user_id].add(room_id)

    def drop_room(self, user_id: str, room_id: str) -> None:
        self._rooms.get(user_id, set()).discard(room_id)

    def online(self) -> list[str]:
        return sorted(self._sessions)

    def _announce(self, user_id: str, status: str, seen: datetime | None) -> None:
        frame = ws_protocol.encode({"type": "user_status", "user_id": user_id, "username": self._names.get(user_id),
                                    "status": status, "last_seen": seen or utcnow()})
        self._hub.deliver_to_rooms(self._rooms.get(user_id, set()), frame, skip_user=user_id)


class Typing:
    def __init__(self, hub: RoomHub, ttl_s: float) -> None:
        self._hub, self._ttl_s = hub, ttl_s
        self._timers: dict[tuple[str, str], runtime.Timer] = {}

    def update(self, room_id: str, user: dict[str, str], is_typing: bool) -> None:
        """Tell the room on a change only; a refresh just pushes the expiry back."""
        key = (room_id, user["id"])
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        if is_typing:
            self._timers[key] = runtime.call_later(self._ttl_s, self._expire, room_id, user)
        if is_typing != (timer is not None):
            self._tell(room_id, user, is_typing)

    def _expire(self, room_id: str, user: dict[str, str]) -> None:
        self._timers.pop((room_id, user["id"]), None)
        self._tell(room_id, user, False)

    def _tell(self, room_id: str, user: dict[str, str], is_typing: bool) -> None:
        frame = {"type": "user_typing", "room_id": room_id, "user": user, "is_typing": is_typing}
        self._hub.deliver(room_id, None, ws_protocol.encode(frame), skip_user=user["id"])
