"""Incoming webhooks: a secret URL that posts into one room as the webhook's own bot.

Creating one (room admins) creates its bot (``hook-<hex>[bot]``, named after the webhook, no owner) as a
member of the room, in one transaction. The secret is shown once and stored as its SHA-256; a post
is checked by hashing what was presented and comparing digests in constant time, with a dummy digest
when the webhook does not exist, so neither timing nor the answer tells a wrong secret from a wrong id.
Revoking one deactivates its bot (it leaves the room, stays the author of its messages).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import peewee

from domain.errors import Conflict, Forbidden, NotFound
from storage import bots
from storage.accounts import user_ref
from storage.chat import require_member
from storage.models import BOT_SUFFIX, IncomingWebhook, Room, RoomMember, User, utcnow
from storage.db import reading, unit_of_work

MAX_PER_ROOM = 20
_DUMMY_DIGEST = hashlib.sha256(b"no such webhook").hexdigest()


@dataclass(frozen=True)
class PostTarget:
    """Where a verified post goes."""
    webhook_id: str
    room_id: str
    bot_id: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def webhook_dict(hook: IncomingWebhook, bot: User) -> dict[str, Any]:
    return {"id": hook.id, "room_id": hook.room_id, "name": hook.name, "bot": user_ref(bot),
            "created_by": hook.created_by_id, "created_at": hook.created_at}


def _require_admin(user_id: str, room_id: str) -> Room:
    room, member = require_member(room_id, user_id)
    if member.role != "admin" or room.kind == "dm":
        raise Forbidden("only a room admin may manage incoming webhooks")
    return room


def _live(room_id: str) -> peewee.ModelSelect:
    return (IncomingWebhook.select(IncomingWebhook, User).join(User, on=IncomingWebhook.bot == User.id)
            .where((IncomingWebhook.room == room_id) & IncomingWebhook.revoked_at.is_null()))


def create(user_id: str, room_id: str, name: str) -> tuple[dict[str, Any], str]:
    """A new webhook and its secret (to be shown once)."""
    secret = secrets.token_urlsafe(32)
    with unit_of_work():
        _require_admin(user_id, room_id)
        if _live(room_id).count() >= MAX_PER_ROOM:
            raise Conflict(f"at most {MAX_PER_ROOM} incoming webhooks per room")
        bot = bots.new_bot(f"hook-{secrets.token_hex(4)}{BOT_SUFFIX}", name, None)
        RoomMember.create(room=room_id, user=bot.id, role="member")
        hook = IncomingWebhook.create(room=room_id, bot=bot.id, created_by=user_id, name=name,
                                      secret_hash=_digest(secret))
    return webhook_dict(hook, bot), secret


def list_for_room(user_id: str, room_id: str) -> list[dict[str, Any]]:
    with reading():
        _require_admin(user_id, room_id)
        return [webhook_dict(hook, hook.bot) for hook in _live(room_id).order_by(IncomingWebhook.created_at)]


def revoke(user_id: str, room_id: str, webhook_id: str) -> str:
    """Revoke the webhook and deactivate its bot; returns the bot's id."""
    with unit_of_work():
        _require_admin(user_id, room_id)
        hook = _live(room_id).where(IncomingWebhook.id == webhook_id).first()
        if hook is None:
            raise NotFound("incoming webhook not found")
        IncomingWebhook.update(revoked_at=utcnow()).where(IncomingWebhook.id == webhook_id).execute()
        bots.deactivate(hook.bot_id)
    return hook.bot_id


def resolve(webhook_id: str, secret: str) -> PostTarget:
    """The live webhook this id and secret name; NOT_FOUND for an unknown, revoked or wrong one alike."""
    with reading():
        hook = IncomingWebhook.get_or_none((IncomingWebhook.id == webhook_id) & IncomingWebhook.revoked_at.is_null())
    expected = hook.secret_hash if hook is not None else _DUMMY_DIGEST
    if not hmac.compare_digest(_digest(secret), expected) or hook is None:
        raise NotFound("no such webhook")
    return PostTarget(hook.id, hook.room_id, hook.bot_id)
