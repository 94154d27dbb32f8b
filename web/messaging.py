"""Sending a message over HTTP (REST and incoming webhooks): chat's ``send`` command, as a /ws frame
builds it (``actors.chat.commands``), so rules, ordering, dedup and fan-out are the same as a socket's."""
from __future__ import annotations

from typing import Any

from flask import g

from storage.chat_messages import sent_before
from web.services import services


def send_message(user_id: str, room_id: str, draft: dict[str, Any],
                 display_name: str | None = None) -> tuple[dict[str, Any], bool]:
    """Store ``draft`` (content, client_msg_id?, reply_to_id?, attachments?) as ``user_id``; returns the
    message once committed, and whether it is new. A known ``client_msg_id`` answers the stored message
    without spending the send budget; concurrent resends still store one message (the writer dedupes)."""
    chat = services().chat
    client_msg_id = draft.get("client_msg_id")
    if client_msg_id:
        stored = sent_before(user_id, room_id, client_msg_id)
        if stored is not None:
            return stored, False
    command = chat.commands.send(user_id, room_id, draft, rid=g.get("request_id"), display_name=display_name)
    return chat.execute(command)["message"], True
