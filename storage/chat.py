"""Chat repository, rooms side: rooms, DMs, membership with roles, read state and the room list.

Each public function is one short unit of work. A private room is invisible to non-members: they get
NOT_FOUND, never FORBIDDEN, so its existence does not leak.
"""
from __future__ import annotations

import functools
import operator
from datetime import datetime
from typing import Any

import peewee

from domain.errors import BadRequest, Conflict, DomainError, Forbidden, NotFound
from storage.accounts import user_ref
from storage.models import Message, Room, RoomMember, User, new_id, utcnow
from storage.db import reading, unit_of_work

MODERATORS = ("admin", "moderator")


def room_dict(room: Room, member: RoomMember | None = None) -> dict[str, Any]:
    return {"id": room.id, "name": room.name, "description": room.description, "is_private": room.is_private,
            "kind": room.kind, "created_by": room.created_by_id, "created_at": room.created_at,
            "updated_at": room.updated_at, "last_seq": room.last_seq, "last_activity_at": room.last_activity_at,
            "role": member.role if member else None}


def membership(room_id: str, user_id: str) -> RoomMember | None:
    """The member row (inside or outside a unit of work)."""
    return RoomMember.get_or_none((RoomMember.room == room_id) & (RoomMember.user == user_id))


def visible_room(room_id: str, user_id: str) -> tuple[Room, RoomMember | None]:
    """The room and the caller's membership; NOT_FOUND when it is private and they are not in it."""
    room = Room.get_or_none(Room.id == room_id)
    member = membership(room_id, user_id) if room else None
    if room is None or (room.is_private and member is None):
        raise NotFound("room not found")
    return room, member


def send_access(pairs: set[tuple[str, str]]) -> dict[tuple[str, str], DomainError | None]:
    """For many (room, user) pairs in two queries: None when the user may post, else the error
    ``require_member`` would raise."""
    room_ids, user_ids = {r for r, _ in pairs}, {u for _, u in pairs}
    private = {r.id: r.is_private for r in Room.select(Room.id, Room.is_private).where(Room.id.in_(room_ids))}
    members = {(m.room_id, m.user_id) for m in RoomMember.select(RoomMember.room, RoomMember.user)
               .where(RoomMember.room.in_(room_ids) & RoomMember.user.in_(user_ids))}
    access: dict[tuple[str, str], DomainError | None] = {}
    for pair in pairs:
        if pair in members:
            access[pair] = None
        elif pair[0] not in private or private[pair[0]]:
            access[pair] = NotFound("room not found")
        else:
            access[pair] = Forbidden("join the room first")
    return access


def require_member(room_id: str, user_id: str) -> tuple[Room, RoomMember]:
    room, member = visible_room(room_id, user_id)
    if member is None:
        raise Forbidden("join the room first")
    return room, member


def create_room(user_id: str, name: str, description: str, is_private: bool) -> dict[str, Any]:
    with unit_of_work():
        room = Room.create(name=name, description=description, is_private=is_private, created_by=user_id)
        member = RoomMember.create(room=room, user=user_id, role="admin")
    return room_dict(room, member)


def get_room(user_id: str, room_id: str) -> dict[str, Any]:
    with reading():
        return room_dict(*visible_room(room_id, user_id))


def update_room(user_id: str, room_id: str, **changes: Any) -> dict[str, Any]:
    with unit_of_work():
        room, member = require_member(room_id, user_id)
        if member.role != "admin" or room.kind == "dm":
            raise Forbidden("only a room admin may change the room")
        Room.update(updated_at=utcnow(), **changes).where(Room.id == room_id).execute()
        return room_dict(Room.get_by_id(room_id), member)


def delete_room(user_id: str, room_id: str) -> tuple[str, int]:
    """Delete the room (admins only); returns its name and how many members it had (for the audit log)."""
    with unit_of_work():
        room, member = require_member(room_id, user_id)
        if member.role != "admin":
            raise Forbidden("only a room admin may delete the room")
        members = RoomMember.select().where(RoomMember.room == room_id).count()
        Room.delete().where(Room.id == room_id).execute()
    return room.name, members


_MEMBER_ROOM_SQL = ("SELECT r.id, r.name, r.description, r.is_private, r.kind, r.created_by_id, r.created_at, "
                    "r.updated_at, r.last_seq, r.last_activity_at, m.role FROM room r LEFT JOIN room_member m "
                    "ON m.room_id = r.id AND m.user_id = {p} WHERE r.id = {p}")


def member_room(user_id: str, room_id: str) -> dict[str, Any] | None:
    """The room if the caller is a member already, None if they may join it; NOT_FOUND for a private
    room they are not in (a read: a join that changes nothing writes nothing). Every /ws join asks
    this (10,000 at once after a restart): one prepared statement, no query building."""
    with reading() as db:
        row = db.execute_sql(_MEMBER_ROOM_SQL.format(p=db.param), (user_id, room_id)).fetchone()
    if row is None or (row[10] is None and Room.is_private.python_value(row[3])):
        raise NotFound("room not found")
    if row[10] is None:
        return None
    return {"id": row[0], "name": row[1], "description": row[2], "is_private": Room.is_private.python_value(row[3]),
            "kind": row[4], "created_by": row[5], "created_at": Room.created_at.python_value(row[6]),
            "updated_at": Room.updated_at.python_value(row[7]), "last_seq": row[8],
            "last_activity_at": Room.last_activity_at.python_value(row[9]), "role": row[10]}


def rooms_of(user_id: str) -> set[str]:
    """The ids of the rooms ``user_id`` is a member of (presence: who to tell), one prepared statement."""
    with reading() as db:
        rows = db.execute_sql(f"SELECT room_id FROM room_member WHERE user_id = {db.param}", (user_id,)).fetchall()
    return {row[0] for row in rows}


def join_rooms(pairs: list[tuple[str, str]]) -> list[tuple[dict[str, Any], bool] | DomainError]:
    """Join public rooms, ``(user_id, room_id)`` each, inside the caller's transaction (the chat writer's
    group commit: a connection storm's joins cost three statements per batch, not three per join). Per
    pair: the room and whether the user is newly a member (joining twice changes nothing), or the error."""
    room_ids, user_ids = {r for _, r in pairs}, {u for u, _ in pairs}
    found = {r.id: r for r in Room.select().where(Room.id.in_(room_ids))}
    members = {(m.room_id, m.user_id): m for m in RoomMember.select()
               .where(RoomMember.room.in_(room_ids) & RoomMember.user.in_(user_ids))}
    results: list[tuple[dict[str, Any], bool] | DomainError] = []
    fresh: list[RoomMember] = []
    now = utcnow()
    for user_id, room_id in pairs:
        room, member = found.get(room_id), members.get((room_id, user_id))
        if room is None or (room.is_private and member is None):
            results.append(NotFound("room not found"))
        elif member is not None:
            results.append((room_dict(room, member), False))
        elif room.kind == "dm":
            results.append(Forbidden("direct message rooms cannot be joined"))
        else:
            member = members[(room_id, user_id)] = RoomMember(id=new_id(), room=room_id, user=user_id,
                                                             role="member", joined_at=now, last_read_seq=0)
            fresh.append(member)
            results.append((room_dict(room, member), True))
    if fresh:
        RoomMember.bulk_create(fresh, batch_size=200)
    return results


def leave_room(user_id: str, room_id: str) -> None:
    with unit_of_work():
        require_member(room_id, user_id)
        RoomMember.delete().where((RoomMember.room == room_id) & (RoomMember.user == user_id)).execute()


def add_member(actor_id: str, room_id: str, target_id: str, role: str) -> tuple[dict[str, Any], bool]:
    """Invite ``target_id``: moderators in private rooms, any member in public ones; roles by admins."""
    with unit_of_work():
        room, member = require_member(room_id, actor_id)
        if room.kind == "dm":
            raise Forbidden("direct message rooms have exactly two members")
        if room.is_private and member.role not in MODERATORS:
            raise Forbidden("only admins and moderators may invite to a private room")
        if role != "member" and member.role != "admin":
            raise Forbidden("only an admin may grant a role")
        if User.get_or_none((User.id == target_id) & User.deactivated_at.is_null()) is None:
            raise NotFound("user not found")
        existing = membership(room_id, target_id)
        if existing is not None:
            if existing.role != role and member.role == "admin":
                RoomMember.update(role=role).where(RoomMember.id == existing.id).execute()
                existing.role = role
            return member_dict(existing), False
        created = RoomMember.create(room=room_id, user=target_id, role=role)
        return member_dict(created), True


def remove_member(actor_id: str, room_id: str, target_id: str) -> None:
    """Remove ``target_id``: admins remove anyone, moderators remove plain members."""
    with unit_of_work():
        _, member = require_member(room_id, actor_id)
        target = membership(room_id, target_id)
        if target is None:
            raise NotFound("not a member")
        allowed = member.role == "admin" or (member.role == "moderator" and target.role == "member")
        if not allowed and actor_id != target_id:
            raise Forbidden("not allowed to remove this member")
        RoomMember.delete().where(RoomMember.id == target.id).execute()


def member_dict(member: RoomMember, user: User | None = None) -> dict[str, Any]:
    user = user or User.get_by_id(member.user_id)
    return {"user": user_ref(user), "role": member.role, "joined_at": member.joined_at,
            "last_read_seq": member.last_read_seq}


def list_members(user_id: str, room_id: str, limit: int, after_id: str | None) -> list[dict[str, Any]]:
    with reading():
        visible_room(room_id, user_id)
        query = (RoomMember.select(RoomMember, User).join(User).where(RoomMember.room == room_id)
                 .order_by(RoomMember.id).limit(limit))
        if after_id:
            query = query.where(RoomMember.id > after_id)
        return [{**member_dict(m, m.user), "member_id": m.id} for m in query]


def get_or_create_dm(user_id: str, other_id: str) -> tuple[dict[str, Any], bool]:
    """The DM room of the pair, created once: the unique ``dm_key`` makes concurrent calls converge."""
    if user_id == other_id:
        raise BadRequest("a direct message needs another user", {"fields": {"user_id": ["is yourself"]}})
    key = ":".join(sorted((user_id, other_id)))
    for _ in range(2):
        with unit_of_work():
            existing = Room.get_or_none(Room.dm_key == key)
            if existing is not None:
                return room_dict(existing, membership(existing.id, user_id)), False
            if User.get_or_none((User.id == other_id) & User.deactivated_at.is_null()) is None:
                raise NotFound("user not found")
        try:
            with unit_of_work():
                room = Room.create(kind="dm", name="dm", is_private=True, dm_key=key, created_by=user_id)
                mine = RoomMember.create(room=room, user=user_id, role="member")
                RoomMember.create(room=room, user=other_id, role="member")
                return room_dict(room, mine), True
        except peewee.IntegrityError:
            continue  # created meanwhile by the other side: read it
    raise Conflict("direct message room is being created; retry")


def mark_read(user_id: str, room_id: str, seq: int) -> tuple[int, bool]:
    """Move the caller's read pointer forward (never back, never past the room's last seq), inside the
    caller's transaction; returns the pointer and whether it moved."""
    room, member = require_member(room_id, user_id)
    target = min(seq, room.last_seq)
    if target > member.last_read_seq:
        RoomMember.update(last_read_seq=target).where(RoomMember.id == member.id).execute()
        return target, True
    return member.last_read_seq, False


def list_rooms(user_id: str, scope: str, limit: int, position: tuple[datetime, str] | None,
               kind: str | None = None) -> list[dict[str, Any]]:
    """The caller's rooms (``joined``) or the public ones (``public``), latest activity first, with
    ``unread_count`` and ``last_message`` for joined rooms; ``position``: after (last activity, id)."""
    with reading():
        if scope == "public":
            query = Room.select(Room).where((Room.is_private == False) & (Room.kind == "channel"))  # noqa: E712
        else:
            query = Room.select(Room, RoomMember).join(
                RoomMember, on=((RoomMember.room == Room.id) & (RoomMember.user == user_id)))
        if kind:
            query = query.where(Room.kind == kind)
        if position:
            at, after_id = position
            query = query.where((Room.last_activity_at < at)
                                | ((Room.last_activity_at == at) & (Room.id > after_id)))
        rooms = list(query.order_by(Room.last_activity_at.desc(), Room.id).limit(limit))
        members = {r.id: getattr(r, "roommember", None) for r in rooms}
        if scope == "public":
            members = {m.room_id: m for m in RoomMember.select().where(
                (RoomMember.user == user_id) & (RoomMember.room.in_([r.id for r in rooms])))}
        unread = _unread_counts(user_id, [r.id for r in rooms])
        last = _last_messages(rooms)
    return [{**room_dict(r, members.get(r.id)), "unread_count": unread.get(r.id, 0),
             "last_message": last.get(r.id)} for r in rooms]


def _unread_counts(user_id: str, room_ids: list[str]) -> dict[str, int]:
    if not room_ids:
        return {}
    query = (Message.select(Message.room, peewee.fn.COUNT(Message.id).alias("n"))
             .join(RoomMember, on=((RoomMember.room == Message.room) & (RoomMember.user == user_id)))
             .where(Message.room.in_(room_ids) & (Message.seq > RoomMember.last_read_seq)
                    & (Message.user != user_id) & (Message.is_deleted == False))  # noqa: E712
             .group_by(Message.room))
    return {row.room_id: row.n for row in query}


def _last_messages(rooms: list[Room]) -> dict[str, dict[str, Any]]:
    wanted = [(r.id, r.last_seq) for r in rooms if r.last_seq > 0]
    if not wanted:
        return {}
    condition = functools.reduce(operator.or_, [(Message.room == rid) & (Message.seq == seq) for rid, seq in wanted])
    out = {}
    for m in Message.select(Message, User).join(User).where(condition):
        out[m.room_id] = {"seq": m.seq, "snippet": "" if m.is_deleted else m.content[:120], "created_at": m.created_at,
                          "user": user_ref(m.user)}
    return out
