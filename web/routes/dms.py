"""``/api/v1/dms``: direct-message rooms, one per pair of users, created on first use."""
from __future__ import annotations

from typing import Any

from storage import chat as rooms
from web.openapi import Blueprint, answers
from web.schemas.chat import RoomSchema
from web.routes.rooms import rooms_page
from web.cursors import read_cursor, time_and_id
from web.schemas.common import PageQuery, page_of
from web.services import principal, services

blp = Blueprint("dms", __name__, url_prefix="/api/v1/dms", description="Direct messages")


@blp.route("", methods=["GET"])
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(RoomSchema))
def list_dms(query: dict[str, Any]) -> dict[str, Any]:
    items = rooms.list_rooms(principal().user_id, "joined", query["limit"] + 1, read_cursor(query["cursor"], time_and_id("at")),
                             kind="dm")
    return rooms_page(items, query["limit"])


@blp.route("/<user_id>", methods=["POST"])
@answers(409)
@blp.response(200, RoomSchema)
@blp.alt_response(201, schema=RoomSchema, description="created")
def get_or_create(user_id: str) -> Any:
    """Idempotent for the pair: 201 the first time, 200 with the same room after."""
    room, created = rooms.get_or_create_dm(principal().user_id, user_id)
    if created:
        services().chat.presence.add_room(principal().user_id, room["id"])
        services().chat.presence.add_room(user_id, room["id"])
        return room, 201
    return room
