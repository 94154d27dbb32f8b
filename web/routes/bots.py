"""``/api/v1/bots``: bot accounts owned by the caller. A bot is added to rooms like anyone (the members
route) and acts with its API keys; deleting it revokes them, closes its sockets and takes it out of
its rooms."""
from __future__ import annotations

import logging
from typing import Any


from domain import logs
from storage import accounts, bots
from web.audit import audit
from web.openapi import Blueprint, answers
from web.schemas.accounts import ApiKeyCreatedSchema, UserSchema
from web.schemas.bots import BotCreatedSchema, BotCreateSchema, BotKeyCreateSchema
from web.services import close_sockets, principal, services

blp = Blueprint("bots", __name__, url_prefix="/api/v1/bots", description="Bot accounts")
log = logging.getLogger("confab.bots")


@blp.route("", methods=["POST"])
@answers(403, 409)
@blp.arguments(BotCreateSchema)
@blp.response(201, BotCreatedSchema)
def create(body: dict[str, Any]) -> dict[str, Any]:
    """A bot named ``<name>[bot]`` and its first API key (shown once)."""
    bot = bots.create_bot(principal().user_id, body["name"], body.get("display_name"))
    logs.event(log, "bot.created", bot_id=bot.id, owner_id=principal().user_id)
    audit("bot.created", bot.id, username=bot.username)
    return {"bot": accounts.user_dict(bot), "api_key": services().auth.create_api_key(bot.id, "default")}


@blp.route("", methods=["GET"])
@blp.response(200, UserSchema(many=True))
def list_bots() -> list[dict[str, Any]]:
    return [accounts.user_dict(bot) for bot in bots.list_bots(principal().user_id)]


@blp.route("/<bot_id>/api-keys", methods=["POST"])
@blp.arguments(BotKeyCreateSchema)
@blp.response(201, ApiKeyCreatedSchema)
def create_key(body: dict[str, Any], bot_id: str) -> dict[str, Any]:
    """Another key for the bot (to rotate: create one, then revoke the old one with the bot's key)."""
    bot = bots.owned_bot(principal().user_id, bot_id)
    key = services().auth.create_api_key(bot.id, body["name"])
    audit("api_key.created", key["id"], name=key["name"], owner_id=bot.id)
    return key


@blp.route("/<bot_id>", methods=["DELETE"])
@blp.response(204)
def delete(bot_id: str) -> None:
    left = bots.delete_bot(principal().user_id, bot_id)
    logs.event(log, "bot.deleted", bot_id=bot_id, rooms=len(left))
    audit("bot.deleted", bot_id)
    retire(bot_id, left)


def retire(user_id: str, rooms: list[str], reason: str = "bot deleted") -> None:
    """After an account's deactivation is stored (a bot's, or a person's deletion): its rooms are told it
    left and its sockets close."""
    for room_id in rooms:
        services().chat.member_left(room_id, user_id)
    close_sockets(reason, user_id=user_id)
