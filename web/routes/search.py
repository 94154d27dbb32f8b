"""``/api/v1/search``: full-text search over the messages of the rooms the caller is a member of."""
from __future__ import annotations

from typing import Any

from actors import runtime
from storage.search import search_messages
from web.openapi import Blueprint, answers
from web.cursors import encode_cursor, rank_and_id, read_cursor
from web.schemas.common import page_of
from web.schemas.search import SearchHitSchema, SearchQuerySchema
from web.services import principal

blp = Blueprint("search", __name__, url_prefix="/api/v1/search", description="Full-text search")


@blp.route("/messages", methods=["GET"])
@answers(403, 404)
@blp.arguments(SearchQuerySchema, location="query")
@blp.response(200, page_of(SearchHitSchema))
def messages(query: dict[str, Any]) -> dict[str, Any]:
    """Best match first; a room the caller cannot read never contributes a message."""
    room_id = str(query["room_id"]) if query["room_id"] else None
    items, position = search_messages(principal().user_id, query["q"], room_id=room_id, limit=query["limit"],
                                      after=read_cursor(query["cursor"], rank_and_id),
                                      run_blocking=runtime.run_blocking)
    cursor = encode_cursor({"rank": position[0], "id": position[1]}) if position else None
    return {"items": items, "next_cursor": cursor}
