"""A person's own data as one JSON object (``GET /users/me/export``): their profile, rooms, messages,
reactions, documents, files, notifications, API keys and webhooks. Secrets stay out: no password hash,
API key or webhook secret (a hint, as the API shows it)."""
from __future__ import annotations

import json
from typing import Any

from storage import accounts
from storage.chat import room_dict
from storage.db import reading
from storage.documents import document_dict
from storage.files import file_dict
from storage.models import (ApiKey, Document, DocumentShare, Message, Notification, Reaction, Room, RoomMember,
                            UploadedFile, Webhook)
from storage.notifications import notification_dicts
from storage.webhooks import webhook_dict


def _messages(user_id: str) -> list[dict[str, Any]]:
    return [{"id": m.id, "room_id": m.room_id, "seq": m.seq, "content": m.content, "reply_to_id": m.reply_to_id,
             "thread_root_id": m.thread_root_id, "attachments": json.loads(m.attachments),
             "is_edited": m.is_edited, "is_deleted": m.is_deleted, "created_at": m.created_at,
             "updated_at": m.updated_at}
            for m in Message.select().where(Message.user == user_id).order_by(Message.created_at, Message.id)]


def export(user_id: str) -> dict[str, Any]:
    with reading():
        user = accounts.get_user(user_id)
        memberships = RoomMember.select(RoomMember, Room).join(Room).where(RoomMember.user == user_id)
        shared = DocumentShare.select(DocumentShare, Document).join(Document).where(DocumentShare.user == user_id)
        return {
            "user": accounts.user_dict(user, private=True),
            "rooms": [{**room_dict(m.room, m), "joined_at": m.joined_at, "last_read_seq": m.last_read_seq}
                      for m in memberships],
            "messages": _messages(user_id),
            "reactions": [{"message_id": r.message_id, "emoji": r.emoji, "created_at": r.created_at}
                          for r in Reaction.select().where(Reaction.user == user_id)],
            "documents": [document_dict(d, "owner") for d in Document.select().where(Document.owner == user_id)]
                         + [document_dict(s.document, s.role) for s in shared],
            "files": [file_dict(f) for f in UploadedFile.select().where(UploadedFile.uploader == user_id)],
            "notifications": notification_dicts(list(Notification.select().where(Notification.user == user_id)
                                                     .order_by(Notification.created_at))),
            "api_keys": [{"id": k.id, "name": k.name, "created_at": k.created_at, "last_used_at": k.last_used_at,
                          "revoked_at": k.revoked_at} for k in ApiKey.select().where(ApiKey.user == user_id)],
            "webhooks": [webhook_dict(w) for w in Webhook.select().where(Webhook.user == user_id)],
        }
