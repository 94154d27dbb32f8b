"""Bot accounts: users named ``<name>[bot]``, managed by the person who created them, acting with API
keys only (their password hash matches no password). Deleting a bot deactivates it: its keys are
revoked and it leaves its rooms, but the row stays as the author of what it posted (deleting it would
delete its messages and leave holes in the rooms' seqs).
"""
from __future__ import annotations

import peewee

from domain.errors import Conflict, Forbidden, NotFound
from storage.models import ApiKey, BOT_SUFFIX, RoomMember, User, new_id, utcnow
from storage.db import database, reading, unit_of_work

MAX_PER_OWNER = 25
NO_PASSWORD = "!"  # not an Argon2 hash: verification always fails
NAME_LENGTH = 32 - len(BOT_SUFFIX)  # the username column holds 32 characters


def new_bot(username: str, display_name: str, owner_id: str | None) -> User:
    """Insert a bot user (inside the caller's transaction); CONFLICT if the username is taken."""
    bot_id = new_id()
    try:
        with database.atomic():  # a savepoint: the caller's transaction survives a conflict
            return User.create(id=bot_id, username=username, email=f"{bot_id}@bots.invalid",
                               display_name=display_name, password_hash=NO_PASSWORD, bot_owner=owner_id)
    except peewee.IntegrityError:
        raise Conflict("username already taken", {"fields": {"name": ["already taken"]}}) from None


def create_bot(owner_id: str, name: str, display_name: str | None) -> User:
    with unit_of_work():
        owner = User.get_by_id(owner_id)
        if owner.is_bot:
            raise Forbidden("a bot cannot create bots")
        if _owned(owner_id).count() >= MAX_PER_OWNER:
            raise Conflict(f"at most {MAX_PER_OWNER} bots per user")
        return new_bot(name + BOT_SUFFIX, display_name or name, owner_id)


def _owned(owner_id: str) -> peewee.ModelSelect:
    return User.select().where((User.bot_owner == owner_id) & User.deactivated_at.is_null())


def list_bots(owner_id: str) -> list[User]:
    with reading():
        return list(_owned(owner_id).order_by(User.created_at, User.id))


def owned_bot(owner_id: str, bot_id: str) -> User:
    """The caller's live bot; NOT_FOUND for anyone else's (their existence does not leak)."""
    with reading():
        bot = _owned(owner_id).where(User.id == bot_id).first()
    if bot is None:
        raise NotFound("bot not found")
    return bot


def delete_bot(owner_id: str, bot_id: str) -> list[str]:
    """Deactivate the caller's bot; returns the rooms it left."""
    with unit_of_work():
        if not _owned(owner_id).where(User.id == bot_id).exists():
            raise NotFound("bot not found")
        return deactivate(bot_id)


def deactivate(bot_id: str) -> list[str]:
    """Inside the caller's transaction: revoke every key of the bot and take it out of its rooms;
    returns the rooms it left."""
    now = utcnow()
    rooms = [m.room_id for m in RoomMember.select(RoomMember.room).where(RoomMember.user == bot_id)]
    RoomMember.delete().where(RoomMember.user == bot_id).execute()
    ApiKey.update(revoked_at=now).where((ApiKey.user == bot_id) & ApiKey.revoked_at.is_null()).execute()
    User.update(deactivated_at=now, updated_at=now).where(User.id == bot_id).execute()
    return rooms
