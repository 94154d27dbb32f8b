"""Presence (online while at least one socket is open, ``last_seen`` when the last closes) and typing
indicators (ephemeral: they expire by themselves after ``typing_ttl_s`` without a refresh).

Both are told to the sessions that share a joined room with the user, each frame encoded once.
Status changes are announced once per tick (``ANNOUNCE_EVERY_S``), only the last of a user's changes
in that tick, and not at all when it is what the rooms last heard (a reconnect within the tick); a
session that asked for batched presence (``/ws?presence=batched``) gets a tick's changes as one
``user_statuses`` frame, so a connection storm costs it one frame per tick, never a backlog. This
``Presence`` is one instance's; with several instances ``actors.chat.shared_presence`` replaces its
going online/offline with Redis and a cluster-wide announcement.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable

from actors import runtime
from actors.chat.hub import RoomHub, Send
from domain import logs, ws_protocol
from domain.chat_events import Event, frame_event
from storage.chat import rooms_of
from storage.db import unit_of_work
from storage.models import User, utcnow

log = logging.getLogger("confab.chat")

ANNOUNCE_EVERY_S = 0.25


class Presence:
    def __init__(self, hub: RoomHub, flush_after_s: float = 0.2) -> None:
        self._hub = hub
        self._sessions: dict[str, dict[str, Send]] = {}  # user → open session id → its send
        self._rooms: dict[str, set[str]] = {}  # user → rooms they are a member of (who to tell)
        self._names: dict[str, str] = {}
        self._seen: dict[str, datetime] = {}  # last_seen values not yet stored
        self._flush_after_s = flush_after_s
        self._flush: runtime.Timer | None = None
        self._heard: dict[str, str] = {}  # user → the status the rooms last heard (online users only)
        self._due: dict[str, tuple[str, datetime, set[str], str | None]] = {}  # user → announcement of this tick
        self._introduced: dict[str, tuple[str | None, set[str]]] = {}  # online new members → (name, rooms)
        self._tick: runtime.Timer | None = None

    def opened(self, user_id: str, username: str, session_id: str, send: Send) -> None:
        sessions = self._sessions.setdefault(user_id, {})
        sessions[session_id] = send
        if len(sessions) == 1:
            self._went_online(user_id, username)

    def closed(self, user_id: str, session_id: str) -> None:
        sessions = self._sessions.get(user_id)
        if sessions is None:
            return
        sessions.pop(session_id, None)
        if sessions:
            return
        del self._sessions[user_id]
        self._went_offline(user_id)

    def _went_online(self, user_id: str, username: str) -> None:
        """The user's first socket on this instance opened: tell the sessions sharing a room."""
        self._names[user_id] = username
        self._rooms[user_id] = rooms_of(user_id)
        self._announce(user_id, "online", None)

    def _went_offline(self, user_id: str) -> None:
        """The user's last socket on this instance closed: store ``last_seen`` soon, tell the rooms now."""
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
        save_last_seen(seen)

    def add_room(self, user_id: str, room_id: str) -> None:
        if user_id in self._rooms:
            self._rooms[user_id].add(room_id)

    def introduce(self, user_id: str, username: str | None, room_id: str) -> None:
        """``user_id`` just became a member of ``room_id``: if they are online, the room hears so at the
        next tick (with the tick's other changes: a storm of first joins is batched too)."""
        if user_id not in self._sessions:
            return
        name, rooms = self._introduced.setdefault(user_id, (username, set()))
        rooms.add(room_id)
        if self._tick is None:
            self._tick = runtime.call_later(ANNOUNCE_EVERY_S, self._announce_due)

    def drop_room(self, user_id: str, room_id: str) -> None:
        self._rooms.get(user_id, set()).discard(room_id)

    def online(self) -> list[str]:
        return sorted(self._sessions)

    def is_online(self, user_id: str) -> bool:
        return user_id in self._sessions

    def send_to_user(self, user_id: str, payload: bytes) -> int:
        """Send the frame to every socket ``user_id`` has open on this instance (notifications)."""
        sends, frame = list(self._sessions.get(user_id, {}).values()), ws_protocol.WireFrame(payload)
        for send in sends:
            send(frame)
        return len(sends)

    def _announce(self, user_id: str, status: str, seen: datetime | None) -> None:
        """Queue the change for this tick's announcement (the rooms and name as they are now)."""
        self._due[user_id] = (status, seen or utcnow(), set(self._rooms.get(user_id, ())), self._names.get(user_id))
        if self._tick is None:
            self._tick = runtime.call_later(ANNOUNCE_EVERY_S, self._announce_due)

    def _announce_due(self) -> None:
        due, self._due, self._tick = self._due, {}, None
        introduced, self._introduced = self._introduced, {}
        changes = {user_id: (rooms, status_frame(user_id, name, "online", utcnow()))
                   for user_id, (name, rooms) in introduced.items() if user_id in self._sessions}
        for user_id, (status, at, room_ids, name) in due.items():
            if self._heard.get(user_id, "offline") == status:
                continue
            if status == "online":
                self._heard[user_id] = status
            else:
                self._heard.pop(user_id, None)
            changes[user_id] = (room_ids | changes.get(user_id, (set(),))[0], status_frame(user_id, name, status, at))
        if changes:
            self._hub.deliver_statuses(changes)


class Typing:
    """Typing indicators of the users typing on this instance; the frames go out as room events, so
    every instance's fan-out delivers them (to everyone in the room but the typist)."""

    def __init__(self, publish: Callable[[Event], None], ttl_s: float) -> None:
        self._publish, self._ttl_s = publish, ttl_s
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
        self._publish(typing_event(room_id, user, is_typing))


def typing_event(room_id: str, user: dict[str, str], is_typing: bool) -> Event:
    """The room event carrying a ``user_typing`` frame (the typist's own sessions skip it)."""
    frame = {"type": "user_typing", "room_id": room_id, "user": user, "is_typing": is_typing}
    return frame_event(room_id, frame, user_id=user["id"])


def status_frame(user_id: str, username: str | None, status: str, last_seen: datetime) -> dict[str, Any]:
    """The ``user_status`` frame (docs/protocol.md), whichever instance or path tells it."""
    return {"type": "user_status", "user_id": user_id, "username": username, "status": status,
            "last_seen": last_seen}


def save_last_seen(seen: dict[str, datetime]) -> None:
    """Store many users' ``last_seen`` in one transaction; a failure only leaves them stale."""
    if not seen:
        return
    try:
        with unit_of_work():
            for user_id, stamp in seen.items():
                User.update(last_seen=stamp).where(User.id == user_id).execute()
    except Exception as exc:  # noqa: BLE001 — a lost last_seen is only stale
        logs.event(log, "chat.last_seen_failed", logging.WARNING, users=len(seen), error=repr(exc))
