"""``/api/v1/users``: search, profile, and editing your own profile."""
from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from storage import accounts
from web.schemas.accounts import UpdateMeSchema, UserSchema, UserSearchQuery
from web.schemas.chat import OnlineUserSchema
from web.schemas.common import PageQuery, decode_cursor, encode_cursor, page_of
from web.services import principal, services

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


@blp.route("/online", methods=["GET"])
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(OnlineUserSchema))
def online(query: dict[str, Any]) -> dict[str, Any]:
    """Users with at least one open WebSocket on this instance, by id."""
    after = (decode_cursor(query["cursor"]) or {}).get("after", "")
    ids = [uid for uid in services().chat.presence.online() if uid > after][:query["limit"] + 1]
    more = len(ids) > query["limit"]
    users = [accounts.get_user(uid) for uid in ids[:query["limit"]]]
    return {"items": [{**accounts.user_dict(u), "status": "online"} for u in users],
            "next_cursor": encode_cursor({"after": users[-1].id}) if more else None}


@blp.route("/<user_id>", methods=["GET"])
@blp.response(200, UserSchema)
def get(user_id: str) -> dict[str, Any]:
    return accounts.user_dict(accounts.get_user(user_id))
