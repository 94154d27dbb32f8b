"""Notifications: a mention, a DM or a reply to you (and a disabled webhook), stored per user.

One message gives a user at most one notification: ``(user, message)`` is unique. Rows are written
inside the chat writer's transaction (``insert``), so a notification exists exactly when its message
does; ``audience`` answers, in a query per question, what deciding the recipients of a batch needs.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee

from domain.errors import NotFound
from storage.account_names import username_key
from storage.accounts import user_ref
from storage.models import Message, Notification, Room, RoomMember, User, new_id, utcnow
from storage.db import reading, unit_of_work

KINDS = ("mention", "dm", "reply", "webhook_disabled")
SNIPPET_CHARS = 120


@dataclass
class Audience:
    """What deciding who to notify for a batch of messages needs to know."""
    kinds: dict[str, str]  # room → channel | dm
    dm_members: dict[str, list[str]]  # DM room → its two members
    user_ids: dict[str, str]  # mentioned username, lowered → user id (only users that exist)
    readers: set[tuple[str, str]]  # (room, user) pairs among the candidates that are members
    authors: dict[str, str]  # replied-to message → its author


def audience(messages: list[dict[str, Any]], mentioned: set[str]) -> Audience:
    """Inside or outside a transaction: rooms, DM members, mentioned users, replied-to authors and
    which of those candidates are members (can read the room)."""
    room_ids = {m["room_id"] for m in messages}
    kinds = {r.id: r.kind for r in Room.select(Room.id, Room.kind).where(Room.id.in_(room_ids))}
    dms = [room for room, kind in kinds.items() if kind == "dm"]
    dm_members: dict[str, list[str]] = {}
    if dms:
        for m in RoomMember.select(RoomMember.room, RoomMember.user).where(RoomMember.room.in_(dms)):
            dm_members.setdefault(m.room_id, []).append(m.user_id)
    user_ids = {username_key(u.username): u.id for u in User.select(User.id, User.username)
                .where(peewee.fn.LOWER(User.username).in_({username_key(n) for n in mentioned}))} if mentioned else {}
    replied = {m["reply_to_id"] for m in messages if m.get("reply_to_id")}
    authors = {m.id: m.user_id for m in Message.select(Message.id, Message.user)
               .where(Message.id.in_(replied))} if replied else {}
    candidates = set(user_ids.values()) | set(authors.values())
    readers = {(m.room_id, m.user_id) for m in RoomMember.select(RoomMember.room, RoomMember.user)
               .where(RoomMember.room.in_(room_ids) & RoomMember.user.in_(candidates))} if candidates else set()
    return Audience(kinds, dm_members, user_ids, readers, authors)


def notified(message_id: str, user_ids: list[str]) -> set[str]:
    """Which of ``user_ids`` already have a notification for the message."""
    if not user_ids:
        return set()
    return {n.user_id for n in Notification.select(Notification.user)
            .where((Notification.message == message_id) & Notification.user.in_(user_ids))}


def snippet(text: str) -> str:
    return text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS - 1] + "…"


def set_snippets(message_id: str, text: str) -> None:
    """Inside the caller's transaction: the message's notifications now quote ``text`` (its edited content,
    or nothing once it is deleted), so a notification never keeps words its author took back."""
    Notification.update(snippet=snippet(text)).where(Notification.message == message_id).execute()


def insert(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Store prepared rows (``user``, ``kind``, ``room``, ``message``, ``actor``, ``snippet``) inside the
    caller's transaction; returns the notification objects in the same order."""
    now = utcnow()
    created = [Notification(id=new_id(), created_at=now, **row) for row in rows]
    for start in range(0, len(created), 200):
        Notification.bulk_create(created[start:start + 200])
    return notification_dicts(created)


def notification_dicts(rows: list[Notification]) -> list[dict[str, Any]]:
    """API notification objects, with the actors fetched in one query."""
    actor_ids = {n.actor_id for n in rows if n.actor_id}
    query = User.select(User.id, User.username, User.display_name).where(User.id.in_(actor_ids))
    actors = {u.id: user_ref(u) for u in query} if actor_ids else {}
    return [{"id": n.id, "kind": n.kind, "room_id": n.room_id, "message_id": n.message_id,
             "actor": actors.get(n.actor_id), "snippet": n.snippet, "created_at": n.created_at,
             "read_at": n.read_at} for n in rows]


def list_for(user_id: str, unread_only: bool, position: tuple[datetime, str] | None,
             limit: int) -> tuple[list[dict[str, Any]], int]:
    """The caller's notifications, newest first (``limit`` rows after ``position``: (created at, id)), and their unread count."""
    with reading():
        query = Notification.select().where(Notification.user == user_id)
        if unread_only:
            query = query.where(Notification.read_at.is_null())
        if position:
            at, after_id = position
            query = query.where((Notification.created_at < at)
                                | ((Notification.created_at == at) & (Notification.id < after_id)))
        rows = list(query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit))
        unread = Notification.select().where((Notification.user == user_id)
                                             & Notification.read_at.is_null()).count()
        return notification_dicts(rows), unread


def mark_read(user_id: str, notification_id: str) -> dict[str, Any]:
    """Mark one of the caller's notifications read (idempotent: the first ``read_at`` stays)."""
    with unit_of_work():
        row = Notification.get_or_none((Notification.id == notification_id) & (Notification.user == user_id))
        if row is None:
            raise NotFound("notification not found")
        if row.read_at is None:
            row.read_at = utcnow()
            Notification.update(read_at=row.read_at).where(Notification.id == row.id).execute()
        return notification_dicts([row])[0]
