"""Chat's write commands, built in one place for /ws frames and REST alike.

A command is what the writer applies in its group commit (``actors.chat.batch``). The rules a command
must pass before it is queued live here: the content's length and the sender's message budget.
Membership, roles and whether the message exists are the writer's to check, inside its transaction,
where storage raises them. The transports only differ in how they wait: a /ws frame is answered by an
``ack`` after the commit, a REST request waits for it (``ChatService.submit`` / ``execute``).
"""
from __future__ import annotations

import uuid
from typing import Any

from domain.config import ChatConfig
from domain.errors import BadRequest, RateLimited
from domain.ratelimit import Limiter

Command = dict[str, Any]


class Commands:
    def __init__(self, config: ChatConfig, limiter: Limiter) -> None:
        self.config, self.limiter = config, limiter

    def send(self, user_id: str, room_id: str, draft: dict[str, Any], *, rid: str | None,
             display_name: str | None = None) -> Command:
        """``draft``: content, and optionally client_msg_id, reply_to_id, attachments. Spends one of
        the sender's messages (across all their sockets and REST calls)."""
        self._check_length(draft["content"], "content")
        self.spend_budget(user_id)
        command = {"op": "send", "user_id": user_id, "room_id": room_id, "content": draft["content"],
                   "client_msg_id": draft.get("client_msg_id") or uuid.uuid4().hex,
                   "reply_to_id": draft.get("reply_to_id"), "attachments": draft.get("attachments") or [],
                   "rid": rid}
        if display_name:
            command["display_name"] = display_name
        return command

    def edit(self, user_id: str, message_id: str, content: str, *, rid: str | None,
             field: str = "content") -> Command:
        """``field``: the name the client gave the new content (``new_content`` in the /ws frame)."""
        self._check_length(content, field)
        return {"op": "edit", "user_id": user_id, "message_id": message_id, "content": content, "rid": rid}

    def delete(self, user_id: str, message_id: str, *, rid: str | None, ip: str | None) -> Command:
        """``ip``: the caller's address, audited with a moderator's deletion of someone else's message."""
        return {"op": "delete", "user_id": user_id, "message_id": message_id, "rid": rid, "ip": ip}

    def react(self, user_id: str, message_id: str, emoji: str, present: bool, *, rid: str | None) -> Command:
        return {"op": "react", "user_id": user_id, "message_id": message_id, "emoji": emoji, "present": present,
                "rid": rid}

    def read(self, user_id: str, room_id: str, seq: int, *, rid: str | None) -> Command:
        return {"op": "read", "user_id": user_id, "room_id": room_id, "seq": seq, "rid": rid}

    def spend_budget(self, user_id: str) -> None:
        wait = self.limiter.check(user_id)
        if wait:
            raise RateLimited(wait, "sending too fast")

    def _check_length(self, content: str, field: str) -> None:
        limit = self.config.max_message_chars
        if len(content) > limit:
            raise BadRequest("message too long", {"fields": {field: [f"longer than {limit} characters"]}})
