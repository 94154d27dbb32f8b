"""Chat repository, messages side: appends with per-room seq, history, edits, deletes, reactions.

The write functions run inside the caller's transaction (the chat writer's group commit), and check
everything before they write, so a refused command leaves nothing behind in the shared transaction.
"""
from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from domain.errors import Forbidden, NotFound
from storage.chat import MODERATORS, require_member
from storage.chat_models import Message, Reaction, Room
from storage.db import reading
from storage.models import User, utcnow


def message_dicts(messages: list[Message], *, new: bool = False) -> list[dict[str, Any]]:
    """API.md message objects, with users and reactions fetched in one query each (``new``
    messages have no reactions yet: no query)."""
    if not messages:
        return []
    users = {u.id: u for u in User.select(User.id, User.username, User.display_name)
             .where(User.id.in_({m.user_id for m in messages}))}
    reactions: dict[str, dict[str, list[str]]] = defaultdict(dict)
    query = Reaction.select().where(Reaction.message.in_([m.id for m in messages]))
    for r in ([] if new else query.order_by(Reaction.created_at, Reaction.id)):
        reactions[r.message_id].setdefault(r.emoji, []).append(r.user_id)
    return [_message_dict(m, users[m.user_id], reactions.get(m.id, {})) for m in messages]


def _message_dict(m: Message, user: User, reactions: dict[str, list[str]]) -> dict[str, Any]:
    return {"id": m.id, "room_id": m.room_id, "seq": m.seq,
            "user": {"id": user.id, "username": user.username, "display_name": user.display_name},
            "content": "" if m.is_deleted else m.content, "reply_to_id": m.reply_to_id,
            "thread_root_id": m.thread_root_id, "attachments": json.loads(m.attachments), "reactions": reactions,
            "is_edited": m.is_edited, "is_deleted": m.is_deleted, "client_msg_id": m.client_msg_id,
            "created_at": m.created_at, "updated_at": m.updated_at}


# --- writes (inside the writer's transaction) -----------------------------------------------------------

def find_duplicates(keys: set[tuple[str, str, str]]) -> dict[tuple[str, str, str], Message]:
    """Stored messages for (room, user, client_msg_id) keys, in one query."""
    if not keys:
        return {}
    query = Message.select().where(Message.room.in_({k[0] for k in keys})
                                   & Message.client_msg_id.in_({k[2] for k in keys}))
    found = {(m.room_id, m.user_id, m.client_msg_id): m for m in query}
    return {key: found[key] for key in keys if key in found}


def thread_root_of(room_id: str, reply_to_id: str | None) -> str | None:
    """The thread a reply belongs to: the replied-to message's root, or that message itself."""
    if reply_to_id is None:
        return None
    parent = Message.get_or_none((Message.id == reply_to_id) & (Message.room == room_id))
    if parent is None:
        raise NotFound("reply_to_id: no such message in this room")
    return parent.thread_root_id or parent.id


def reserve_seqs(counts: dict[str, int]) -> dict[str, int]:
    """Advance each room's counter by its count; returns the first seq of each room's block."""
    now, first = utcnow(), {}
    for room_id, n in counts.items():
        Room.update(last_seq=Room.last_seq + n, last_activity_at=now).where(Room.id == room_id).execute()
        first[room_id] = Room.select(Room.last_seq).where(Room.id == room_id).scalar() - n + 1
    return first


def insert_messages(rows: list[dict[str, Any]]) -> list[Message]:
    """Insert prepared rows (with ``seq`` assigned) in one statement per chunk."""
    now = utcnow()
    messages = [Message(**row, created_at=now, updated_at=now) for row in rows]
    for start in range(0, len(messages), 200):
        Message.bulk_create(messages[start:start + 200])
    return messages


def _writable(user_id: str, message_id: str) -> tuple[Message, str]:
    """The message and the caller's role in its room; NOT_FOUND if they cannot see it."""
    message = Message.get_or_none(Message.id == message_id)
    if message is None:
        raise NotFound("message not found")
    _, member = require_member(message.room_id, user_id)
    return message, member.role


def edit_message(user_id: str, message_id: str, content: str) -> Message:
    message, _ = _writable(user_id, message_id)
    if message.user_id != user_id:
        raise Forbidden("only the author may edit a message")
    if message.is_deleted:
        raise NotFound("message deleted")
    Message.update(content=content, is_edited=True, updated_at=utcnow()).where(Message.id == message_id).execute()
    return Message.get_by_id(message_id)


def delete_message(user_id: str, message_id: str) -> Message:
    message, role = _writable(user_id, message_id)
    if message.user_id != user_id and role not in MODERATORS:
        raise Forbidden("only the author or a room admin/moderator may delete a message")
    if not message.is_deleted:
        Message.update(is_deleted=True, content="", updated_at=utcnow()).where(Message.id == message_id).execute()
    return Message.get_by_id(message_id)


def set_reaction(user_id: str, message_id: str, emoji: str, present: bool) -> tuple[Message, bool]:
    """Add or remove one reaction; returns the message and whether anything changed."""
    message, _ = _writable(user_id, message_id)
    where = (Reaction.message == message_id) & (Reaction.user == user_id) & (Reaction.emoji == emoji)
    exists = Reaction.select().where(where).exists()
    if present and not exists:
        Reaction.create(message=message_id, user=user_id, emoji=emoji)
        return message, True
    if not present and exists:
        Reaction.delete().where(where).execute()
        return message, True
    return message, False


# --- reads ---------------------------------------------------------------------------------------------

def history(user_id: str, room_id: str, *, before_seq: int | None = None, after_seq: int | None = None,
            limit: int = 50) -> list[dict[str, Any]]:
    """Messages in ascending seq: the newest ``limit`` below ``before_seq``, or the oldest above ``after_seq``."""
    with reading():
        require_member(room_id, user_id)
        return messages_between(room_id, before_seq=before_seq, after_seq=after_seq, limit=limit)


def messages_between(room_id: str, *, before_seq: int | None = None, after_seq: int | None = None,
                     limit: int = 50) -> list[dict[str, Any]]:
    query = Message.select().where(Message.room == room_id).limit(limit)
    if before_seq is not None:
        query = query.where(Message.seq < before_seq)
    if after_seq is not None:
        query = query.where(Message.seq > after_seq)
    descending = after_seq is None
    rows = list(query.order_by(Message.seq.desc() if descending else Message.seq))
    return message_dicts(rows[::-1] if descending else rows)


def get_message(user_id: str, message_id: str) -> dict[str, Any]:
    with reading():
        message = Message.get_or_none(Message.id == message_id)
        if message is None:
            raise NotFound("message not found")
        require_member(message.room_id, user_id)
        return message_dicts([message])[0]


def thread(user_id: str, message_id: str, limit: int, after_seq: int | None) -> list[dict[str, Any]]:
    """The root and its replies in seq order."""
    with reading():
        root = Message.get_or_none(Message.id == message_id)
        if root is None:
            raise NotFound("message not found")
        require_member(root.room_id, user_id)
        root_id = root.thread_root_id or root.id
        query = (Message.select().where((Message.room == root.room_id)
                                        & ((Message.id == root_id) | (Message.thread_root_id == root_id)))
                 .order_by(Message.seq).limit(limit))
        if after_seq is not None:
            query = query.where(Message.seq > after_seq)
        return message_dicts(list(query))
