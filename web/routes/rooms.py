"""``/api/v1/rooms``: rooms, membership, history and read state. Rules live in storage and the chat
component; these views translate."""
from __future__ import annotations

from typing import Any

from flask import g

from domain.errors import NotFound
from storage import accounts
from storage import chat as rooms
from storage.chat_messages import history
from web.audit import audit
from web.messaging import send_message
from web.openapi import Blueprint, answers
from web.schemas import examples
from web.schemas.chat import (MessageHistoryQuery, InviteSchema, MemberSchema, MessageSchema, ReadSchema, ReadStateSchema,
                              RoomCreateSchema, RoomListQuery, RoomSchema, RoomUpdateSchema, SendMessageSchema)
from web.cursors import after_name, encode_cursor, paginate, read_cursor, seq_bound, time_and_id
from web.schemas.common import PageQuery, page_of
from web.services import principal, services

blp = Blueprint("rooms", __name__, url_prefix="/api/v1/rooms", description="Chat rooms")


def _me() -> str:
    return principal().user_id


def _user_ref() -> dict[str, Any]:
    return accounts.user_ref(accounts.get_user(_me()))


@blp.route("", methods=["GET"])
@blp.arguments(RoomListQuery, location="query")
@blp.response(200, page_of(RoomSchema))
def list_rooms(query: dict[str, Any]) -> dict[str, Any]:
    """The caller's rooms (or ``scope=public``), latest activity first, with unread counts."""
    items = rooms.list_rooms(_me(), query["scope"], query["limit"] + 1,
                             read_cursor(query["cursor"], time_and_id("at")))
    return rooms_page(items, query["limit"])


def rooms_page(items: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    """A page of rooms fetched with ``limit + 1``: the cursor continues after the last one shown."""
    items, cursor = paginate(items, limit, lambda last: {"at": last["last_activity_at"].isoformat(), "id": last["id"]})
    return {"items": items, "next_cursor": cursor}


@blp.route("", methods=["POST"])
@blp.arguments(RoomCreateSchema, example=examples.ROOM_CREATE)
@blp.response(201, RoomSchema, example=examples.ROOM)
def create(body: dict[str, Any]) -> dict[str, Any]:
    room = rooms.create_room(_me(), body["name"], body["description"], body["is_private"])
    services().chat.presence.add_room(_me(), room["id"])
    return room


@blp.route("/<room_id>", methods=["GET"])
@blp.response(200, RoomSchema)
def get(room_id: str) -> dict[str, Any]:
    return rooms.get_room(_me(), room_id)


@blp.route("/<room_id>", methods=["PUT"])
@answers(403)
@blp.arguments(RoomUpdateSchema)
@blp.response(200, RoomSchema)
def update(body: dict[str, Any], room_id: str) -> dict[str, Any]:
    return rooms.update_room(_me(), room_id, **body)


@blp.route("/<room_id>", methods=["DELETE"])
@answers(403)
@blp.response(204)
def delete(room_id: str) -> None:
    name, members = rooms.delete_room(_me(), room_id)
    audit("room.deleted", room_id, name=name, members=members)
    services().chat.room_deleted(room_id)


@blp.route("/<room_id>/join", methods=["POST"])
@answers(403)
@blp.response(200, RoomSchema)
def join(room_id: str) -> dict[str, Any]:
    room, _newly = services().chat.join(_user_ref(), room_id)
    return room


@blp.route("/<room_id>/leave", methods=["POST"])
@answers(403)
@blp.response(204)
def leave(room_id: str) -> None:
    rooms.leave_room(_me(), room_id)
    services().chat.member_left(room_id, _me())


@blp.route("/<room_id>/members", methods=["GET"])
@answers(403)
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(MemberSchema))
def members(query: dict[str, Any], room_id: str) -> dict[str, Any]:
    after = read_cursor(query["cursor"], after_name)
    items, cursor = paginate(rooms.list_members(_me(), room_id, query["limit"] + 1, after), query["limit"],
                             lambda last: {"after": last["member_id"]})
    return {"items": items, "next_cursor": cursor}


@blp.route("/<room_id>/members", methods=["POST"])
@answers(403)
@blp.arguments(InviteSchema)
@blp.response(201, MemberSchema)
def invite(body: dict[str, Any], room_id: str) -> dict[str, Any]:
    target = body.get("user_id") or _user_id_of(body["username"])
    member, newly = rooms.add_member(_me(), room_id, target, body["role"])
    audit("room.member_added" if newly else "room.role_changed", target, room_id=room_id, role=body["role"])
    if newly:
        services().chat.member_invited(room_id, member["user"])
    return member


def _user_id_of(username: str) -> str:
    user = accounts.find_by_username(username)
    if user is None:
        raise NotFound("user not found")
    return user.id


@blp.route("/<room_id>/members/<user_id>", methods=["DELETE"])
@answers(403)
@blp.response(204)
def remove(room_id: str, user_id: str) -> None:
    """Remove a member (admins: anyone; moderators: members): their sockets stop receiving at once."""
    rooms.remove_member(_me(), room_id, user_id)
    audit("room.member_removed", user_id, room_id=room_id)
    services().chat.member_left(room_id, user_id)


@blp.route("/<room_id>/messages", methods=["GET"])
@answers(403)
@blp.arguments(MessageHistoryQuery, location="query")
@blp.response(200, page_of(MessageSchema), example=examples.MESSAGE_PAGE)
def messages(query: dict[str, Any], room_id: str) -> dict[str, Any]:
    """Ordered by seq. ``after_seq`` pages forward (oldest first); otherwise the newest before ``before_seq``."""
    before, after = query["before_seq"], query["after_seq"]
    position = read_cursor(query["cursor"], seq_bound)
    if position is not None:
        before, after = (position[1], None) if position[0] == "before" else (None, position[1])
    items = history(_me(), room_id, before_seq=before, after_seq=after, limit=query["limit"])
    cursor = None
    if len(items) == query["limit"]:
        cursor = encode_cursor({"after": items[-1]["seq"]} if after is not None else {"before": items[0]["seq"]})
    return {"items": items, "next_cursor": cursor}


@blp.route("/<room_id>/messages", methods=["POST"])
@answers(403)
@blp.arguments(SendMessageSchema, example=examples.MESSAGE_SEND)
@blp.response(201, MessageSchema, example=examples.MESSAGE_PAGE["items"][0])
@blp.alt_response(200, schema=MessageSchema, description="a resend: the message stored under this client_msg_id")
def send(body: dict[str, Any], room_id: str) -> tuple[dict[str, Any], int]:
    """Send as over /ws ``send_message`` (same checks, the same per-user rate limit, the same writer):
    answered once the message is stored, with its ``seq``; members' sockets get ``new_message``."""
    message, created = send_message(_me(), room_id, body)
    return message, 201 if created else 200


@blp.route("/<room_id>/read", methods=["POST"])
@answers(403)
@blp.arguments(ReadSchema)
@blp.response(200, ReadStateSchema)
def read(body: dict[str, Any], room_id: str) -> dict[str, Any]:
    chat = services().chat
    return chat.execute(chat.commands.read(_me(), room_id, body["seq"], rid=g.get("request_id")))
