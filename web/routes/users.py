"""``/api/v1/users``: search, profile, and editing your own profile."""
from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from storage import accounts
from web.schemas.accounts import UpdateMeSchema, UserSchema, UserSearchQuery
from web.schemas.common import decode_cursor, encode_cursor, page_of
from web.services import principal

blp = Blueprint("users", __name__, url_prefix="/api/v1/users", description="Users")


@blp.route("", methods=["GET"])
@blp.arguments(UserSearchQuery, location="query")
@blp.response(200, page_of(UserSchema))
def search(query: dict[str, Any]) -> dict[str, Any]:
    position = decode_cursor(query["cursor"]) or {}
    users = accounts.search_users(query["q"], query["limit"] + 1, position.get("after"))
    more = len(users) > query["limit"]
    users = users[:query["limit"]]
    return {"items": [accounts.user_dict(u) for u in users],
            "next_cursor": encode_cursor({"after": users[-1].username}) if more else None}


@blp.route("/me", methods=["PUT"])
@blp.arguments(UpdateMeSchema)
@blp.response(200, UserSchema)
def update_me(body: dict[str, Any]) -> dict[str, Any]:
    return accounts.user_dict(accounts.update_user(principal().user_id, **body), private=True)


@blp.route("/<user_id>", methods=["GET"])
@blp.response(200, UserSchema)
def get(user_id: str) -> dict[str, Any]:
    return accounts.user_dict(accounts.get_user(user_id))
