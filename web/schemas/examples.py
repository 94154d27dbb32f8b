"""Examples for the main operations in the OpenAPI document: what a client sends and gets back."""
from __future__ import annotations

from typing import Any

_ANA = "8f14e45f-ceea-467f-a0e6-7a0a2d5b1c11"
_ROOM = "c9f0f895-fb98-4b91-8c5e-3e9e5c1c1a42"
_DOC = "45c48cce-2e2d-4fbd-a2b1-2a8f9a1e7d03"
_FILE = "6512bd43-d9ca-4a6e-9c58-6e1a4b0c3f55"
_AT = "2026-05-04T09:30:00.000Z"

USER = {"id": _ANA, "username": "ana", "display_name": "Ana", "is_bot": False, "owner_id": None,
        "email": "ana@example.com", "created_at": _AT, "last_seen": None}
REGISTER = {"username": "ana", "email": "ana@example.com", "password": "correct horse", "display_name": "Ana"}
LOGIN = {"username": "ana", "password": "correct horse"}
TOKENS = {"access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI4ZjE0In0.c2lnbmF0dXJl",
          "refresh_token": "rt_3q2-7wEXAMPLEb4x", "token_type": "Bearer", "expires_in": 900,
          "user": USER}
REFRESH = {"refresh_token": "rt_3q2-7wEXAMPLEb4x"}

ROOM_CREATE = {"name": "general", "description": "Everything else", "is_private": False}
ROOM = {"id": _ROOM, "name": "general", "description": "Everything else", "is_private": False, "kind": "channel",
        "created_by": _ANA, "created_at": _AT, "updated_at": _AT, "last_seq": 0, "last_activity_at": _AT,
        "role": "admin", "unread_count": 0, "last_message": None}

FILE = {"file_id": _FILE, "file_name": "diagram.png", "content_type": "image/png", "file_size": 48213,
        "sha256": "9b74c9897bac770ffc029102a200c5de9b74c9897bac770ffc029102a200c5de",
        "file_url": f"/files/{_FILE}", "thumbnail_url": f"/files/{_FILE}/thumbnail"}


def _message(seq: int, content: str, **extra: Any) -> dict[str, Any]:
    return {"id": f"0c3e7c1e-8d3b-4a51-9f7e-00000000000{seq}", "room_id": _ROOM, "seq": seq,
            "user": {"id": _ANA, "username": "ana", "display_name": "Ana", "is_bot": False}, "content": content,
            "reply_to_id": None, "thread_root_id": None, "attachments": [], "reactions": {}, "is_edited": False,
            "is_deleted": False, "client_msg_id": f"c-{seq}", "created_at": _AT, "updated_at": _AT, **extra}


MESSAGE_PAGE = {"items": [_message(1, "Morning! Here is the diagram.", attachments=[FILE]),
                          _message(2, "Standup at 10", reactions={"👍": [_ANA]})],
                "next_cursor": None}
MESSAGE_EDIT = {"content": "Standup at 10:30"}
MESSAGE_SEND = {"content": "Morning! Here is the diagram.", "client_msg_id": "c-1", "attachments": [_FILE]}

DOCUMENT_CREATE = {"title": "Release notes"}
DOCUMENT = {"id": _DOC, "title": "Release notes", "owner_id": _ANA, "version": 0, "created_at": _AT,
            "updated_at": _AT, "role": "owner"}
DOCUMENT_DETAIL = {**DOCUMENT, "version": 12, "content": "# Release notes\n\n- faster search\n"}
