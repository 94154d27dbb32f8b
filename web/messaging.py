"""Sending a message over HTTP (REST and incoming webhooks): the checks ``send_message`` makes on /ws,
then the same chat command, so ordering, dedup and fan-out are the writer's as for any socket."""
from __future__ import annotations

import uuid
from typing import Any

from flask import g

from domain.errors import BadRequest, RateLimited
from storage.chat_messages import sent_before
from web.services import services


def send_message(user_id: str, room_id: str, draft: dict[str, Any],
                 display_name: str | None = None) -> tuple[dict[str, Any], bool]:
    """Store ``draft`` (content, client_msg_id?, reply_to_id?, attachments?) as ``user_id``; returns the
    message once committed, and whether it is new. A known ``client_msg_id`` answers the stored message
    without spending the send budget; concurrent resends still store one message (the writer dedupes)."""
    chat = services().chat
    limit = chat.config.max_message_chars
    if len(draft["content"]) > limit:
        raise BadRequest("message too long", {"fields": {"content": [f"longer than {limit} characters"]}})
    client_msg_id = draft.get("client_msg_id")
    if client_msg_id:
        stored = sent_before(user_id, room_id, client_msg_id)
        if stored is not None:
            return stored, False
    wait = chat.limiter.check(user_id)  # the per-user budget /ws sends spend too
    if wait:
        raise RateLimited(wait, "sending too fast")
    command = {"op": "send", "user_id": user_id, "room_id": room_id, "content": draft["content"],
               "client_msg_id": client_msg_id or uuid.uuid4().hex, "reply_to_id": draft.get("reply_to_id"),
               "attachments": draft.get("attachments") or [], "rid": g.get("request_id")}
    if display_name:
        command["display_name"] = display_name
    return chat.execute(command)["message"], True
