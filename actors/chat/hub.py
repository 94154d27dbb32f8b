"""The local fan-out: which sessions joined which room, and delivery of encoded frames to them.

A delivery frames the payload once and pushes the same bytes into each member socket's outbox: no
message per member, no wait. Runs in whichever greenlet calls it and never yields, so under gevent
each method is atomic.

The join seam: a session joining with ``since_seq`` is subscribed *before* its history is read, in
buffering mode. Live frames that arrive while the history is replayed are held; ``go_live`` then sends
the held frames and switches to direct delivery. The subscription remembers the last replayed seq and
drops any ``new_message`` at or below it: a message committed before the read but still on its way
through ``chat.events`` is in the history already. A message is committed before its event is
published, and events of a room arrive in seq order, so every message reaches the session exactly once.

The hub also remembers the last ``new_message`` seq it delivered per room with sessions: a seq at or
below it is a redelivery (at-least-once) and is dropped; one above ``last + 1`` means events were lost
(a writer instance died between its commit and its publish) and ``gap`` tells the caller what to read
from storage first.
"""
from __future__ import annotations

from typing import Any, Callable

from domain.ws_protocol import WireFrame, encode

Send = Callable[[WireFrame], bool]  # a session's send: queues the frame in its socket's outbox


class _Subscription:
    __slots__ = ("user_id", "send", "held", "floor", "batched")

    def __init__(self, user_id: str, send: Send, buffering: bool, batched: bool) -> None:
        self.user_id, self.send, self.batched = user_id, send, batched
        self.held: list[tuple[int | None, WireFrame]] | None = [] if buffering else None
        self.floor = 0  # messages at or below this seq were replayed from storage

    def deliver(self, seq: int | None, frame: WireFrame) -> None:
        if seq is not None and seq <= self.floor:
            return
        if self.held is not None:
            self.held.append((seq, frame))
        else:
            self.send(frame)


class RoomHub:
    def __init__(self) -> None:
        self._rooms: dict[str, dict[str, _Subscription]] = {}  # room → session → subscription
        self._joined: dict[str, set[str]] = {}  # session → rooms
        self._last: dict[str, int] = {}  # room with sessions → last new_message seq delivered

    def subscribe(self, room_id: str, session_id: str, user_id: str, send: Send, *, buffering: bool,
                  batched: bool = False) -> None:
        """``batched``: the session takes a tick's status changes as one ``user_statuses`` frame."""
        self._rooms.setdefault(room_id, {})[session_id] = _Subscription(user_id, send, buffering, batched)
        self._joined.setdefault(session_id, set()).add(room_id)

    def go_live(self, room_id: str, session_id: str, replayed_up_to: int) -> None:
        """Send what was held during the replay (above ``replayed_up_to``) and deliver directly from now on."""
        sub = self._rooms.get(room_id, {}).get(session_id)
        if sub is None or sub.held is None:
            return
        held, sub.held, sub.floor = sub.held, None, replayed_up_to
        for seq, frame in held:
            sub.deliver(seq, frame)

    def unsubscribe(self, room_id: str, session_id: str) -> None:
        subs = self._rooms.get(room_id)
        if subs is not None:
            subs.pop(session_id, None)
            if not subs:
                self._forget(room_id)
        rooms = self._joined.get(session_id)
        if rooms is not None:
            rooms.discard(room_id)

    def unsubscribe_user(self, room_id: str, user_id: str, farewell: bytes | None = None) -> None:
        """Stop delivering ``room_id`` to every session of ``user_id``, after ``farewell`` if given."""
        for session_id, sub in list(self._rooms.get(room_id, {}).items()):
            if sub.user_id == user_id:
                if farewell is not None:
                    sub.send(WireFrame(farewell))
                self.unsubscribe(room_id, session_id)

    def drop_room(self, room_id: str) -> None:
        for session_id in list(self._rooms.get(room_id, {})):
            self.unsubscribe(room_id, session_id)

    def drop_session(self, session_id: str) -> None:
        for room_id in list(self._joined.pop(session_id, ())):
            subs = self._rooms.get(room_id)
            if subs is not None:
                subs.pop(session_id, None)
                if not subs:
                    self._forget(room_id)

    def _forget(self, room_id: str) -> None:
        del self._rooms[room_id]
        self._last.pop(room_id, None)

    def is_subscribed(self, room_id: str, session_id: str) -> bool:
        return session_id in self._rooms.get(room_id, {})

    def gap(self, room_id: str, seq: int) -> int | None:
        """The last seq delivered in ``room_id`` when messages before ``seq`` are missing, else None."""
        last = self._last.get(room_id)
        return last if last is not None and seq > last + 1 and room_id in self._rooms else None

    def deliver(self, room_id: str, seq: int | None, payload: bytes, skip_user: str | None = None) -> int:
        """Send the same encoded frame to every session in the room; returns how many got it."""
        subs = self._rooms.get(room_id)
        if subs is None:
            return 0
        if seq is not None:
            if seq <= self._last.get(room_id, 0):
                return 0
            self._last[room_id] = seq
        count, frame = 0, WireFrame(payload)  # framed once for every member
        for sub in list(subs.values()):
            if sub.user_id != skip_user:
                sub.deliver(seq, frame)
                count += 1
        return count

    def deliver_statuses(self, changes: dict[str, tuple[set[str], dict[str, Any]]]) -> int:
        """One tick's status changes (user → (their rooms, their ``user_status`` frame)): each session
        sharing a room with a user hears of that user once; a session that asked for batched presence
        hears of all of them in one ``user_statuses`` frame (a storm of reconnects costs a frame per
        session per tick, not one per member per change). Each frame is encoded once. Returns the
        frames sent."""
        seen: dict[str, tuple[_Subscription, dict[str, None]]] = {}  # session → (its subscription, users)
        for user_id, (room_ids, _frame) in changes.items():
            for room_id in room_ids:
                for session_id, sub in self._rooms.get(room_id, {}).items():
                    if sub.user_id != user_id:
                        seen.setdefault(session_id, (sub, {}))[1][user_id] = None
        singles: dict[str, WireFrame] = {}
        batches: dict[tuple[str, ...], WireFrame] = {}
        sent = 0
        for sub, users in seen.values():
            if sub.batched and len(users) > 1:
                key = tuple(sorted(users))
                frame = batches.get(key)
                if frame is None:
                    frame = batches[key] = WireFrame(encode({"type": "user_statuses", "users": [
                        {k: v for k, v in changes[u][1].items() if k != "type"} for u in key]}))
                sub.send(frame)
                sent += 1
                continue
            for user_id in users:
                frame = singles.get(user_id)
                if frame is None:
                    frame = singles[user_id] = WireFrame(encode(changes[user_id][1]))
                sub.send(frame)
                sent += 1
        return sent

    def deliver_to_rooms(self, room_ids: set[str], payload: bytes, skip_user: str | None = None) -> int:
        """Send the frame once to each session subscribed to any of ``room_ids`` (presence)."""
        seen: set[str] = set()
        frame = WireFrame(payload)
        for room_id in room_ids:
            for session_id, sub in self._rooms.get(room_id, {}).items():
                if session_id not in seen and sub.user_id != skip_user:
                    seen.add(session_id)
                    sub.send(frame)
        return len(seen)
