"""``/api/v1/messages/{id}``: read, edit, delete, reactions and threads. Writes go through the chat
writer like WebSocket frames do, so they are ordered and broadcast the same way."""
from __future__ import annotations

from typing import Any, Callable

from flask import g

from actors.chat.commands import Command
from storage.chat_messages import get_message, thread
from web.cursors import encode_cursor
from web.openapi import Blueprint, answers
from web.schemas import examples
from web.schemas.chat import EditSchema, MessageSchema, ReactionSchema, ThreadQuery
from web.schemas.common import page_of
from web.services import principal, services

blp = Blueprint("messages", __name__, url_prefix="/api/v1/messages", description="Chat messages")


def _write(command: Callable[..., Command], message_id: str, *args: Any, **fields: Any) -> dict[str, Any]:
    """``command``: one of chat's ``Commands``, called as the caller on ``message_id``."""
    chat = services().chat
    return chat.execute(command(principal().user_id, message_id, *args, rid=g.get("request_id"), **fields))["message"]


@blp.route("/<message_id>", methods=["GET"])
@answers(403)
@blp.response(200, MessageSchema)
def get(message_id: str) -> dict[str, Any]:
    return get_message(principal().user_id, message_id)


@blp.route("/<message_id>", methods=["PUT"])
@answers(403)
@blp.arguments(EditSchema, example=examples.MESSAGE_EDIT)
@blp.response(200, MessageSchema, example=examples.MESSAGE_PAGE["items"][1])
def edit(body: dict[str, Any], message_id: str) -> dict[str, Any]:
    return _write(services().chat.commands.edit, message_id, body["content"])


@blp.route("/<message_id>", methods=["DELETE"])
@answers(403)
@blp.response(200, MessageSchema)
def delete(message_id: str) -> dict[str, Any]:
    return _write(services().chat.commands.delete, message_id, ip=g.get("client_ip"))


@blp.route("/<message_id>/reactions", methods=["POST"])
@answers(403)
@blp.arguments(ReactionSchema)
@blp.response(200, MessageSchema)
def add_reaction(body: dict[str, Any], message_id: str) -> dict[str, Any]:
    return _write(services().chat.commands.react, message_id, body["emoji"], True)


@blp.route("/<message_id>/reactions", methods=["DELETE"])
@answers(403)
@blp.arguments(ReactionSchema)
@blp.response(200, MessageSchema)
def remove_reaction(body: dict[str, Any], message_id: str) -> dict[str, Any]:
    return _write(services().chat.commands.react, message_id, body["emoji"], False)


@blp.route("/<message_id>/thread", methods=["GET"])
@answers(403)
@blp.arguments(ThreadQuery, location="query")
@blp.response(200, page_of(MessageSchema))
def get_thread(query: dict[str, Any], message_id: str) -> dict[str, Any]:
    """The thread's root and its replies, in seq order; page on with ``after_seq``."""
    items = thread(principal().user_id, message_id, query["limit"], query["after_seq"])
    more = len(items) == query["limit"]
    return {"items": items, "next_cursor": encode_cursor({"after": items[-1]["seq"]}) if more else None}
