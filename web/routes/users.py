"""``/api/v1/users``: search, profile, and editing your own profile."""
from __future__ import annotations

from typing import Any

from domain.errors import NotFound
from storage import accounts, digests, files
from storage.models import utcnow
from web.middleware import public
from web.openapi import Blueprint
from web.schemas.accounts import (UnsubscribedSchema, UnsubscribeQuery, UpdateMeSchema, UserSchema,
                                  UserSearchQuery)
from web.schemas.chat import OnlineUserSchema
from web.cursors import after_name, paginate, read_cursor
from web.schemas.common import PageQuery, page_of
from web.services import principal, services

blp = Blueprint("users", __name__, url_prefix="/api/v1/users", description="Users")


@blp.route("", methods=["GET"])
@blp.arguments(UserSearchQuery, location="query")
@blp.response(200, page_of(UserSchema))
def search(query: dict[str, Any]) -> dict[str, Any]:
    after = read_cursor(query["cursor"], after_name)
    users, cursor = paginate(accounts.search_users(query["q"], query["limit"] + 1, after),
                             query["limit"], lambda last: {"after": last.username})
    return {"items": [accounts.user_dict(u) for u in users], "next_cursor": cursor}


@blp.route("/me", methods=["PUT"])
@blp.arguments(UpdateMeSchema)
@blp.response(200, UserSchema)
def update_me(body: dict[str, Any]) -> dict[str, Any]:
    """Only the fields sent change; ``avatar_file_id`` must be an image the caller uploaded."""
    if body.get("avatar_file_id"):
        files.own_image(principal().user_id, body["avatar_file_id"], "avatar_file_id")
    return accounts.user_dict(accounts.update_user(principal().user_id, **body), private=True)


@blp.route("/online", methods=["GET"])
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(OnlineUserSchema))
def online(query: dict[str, Any]) -> dict[str, Any]:
    """Users with at least one open WebSocket, by id: on any instance of a cluster (presence in Redis)."""
    after = read_cursor(query["cursor"], after_name) or ""
    ids, cursor = paginate([uid for uid in services().chat.presence.online() if uid > after][:query["limit"] + 1],
                           query["limit"], lambda last: {"after": last})
    return {"items": [{**accounts.user_dict(accounts.get_user(uid)), "status": "online"} for uid in ids],
            "next_cursor": cursor}


@blp.route("/<user_id>/digest/unsubscribe", methods=["GET"])
@public
@blp.arguments(UnsubscribeQuery, location="query")
@blp.response(200, UnsubscribedSchema)
def unsubscribe(query: dict[str, Any], user_id: str) -> dict[str, Any]:
    """The link at the end of every digest: no sign-in, the signature names the user (NOT_FOUND otherwise)."""
    if not services().unsubscribe_links.genuine(user_id, query["sig"]):
        raise NotFound("user not found")
    digests.set_opted_out(user_id, utcnow())
    return {"email_digest": False}


@blp.route("/<user_id>", methods=["GET"])
@blp.response(200, UserSchema)
def get(user_id: str) -> dict[str, Any]:
    return accounts.user_dict(accounts.get_user(user_id))
