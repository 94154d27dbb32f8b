"""Account models: users, refresh-token families, API keys. Ids are UUID strings; times are UTC.

A bot is a user whose username ends in ``[bot]`` (GitHub's convention): no person can register that
suffix, so "is a bot" is visible wherever a username is, with no extra column to load. A bot acts with
API keys only; ``bot_owner`` is the person who manages it (null for an incoming webhook's bot).
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import peewee

from storage.db import database


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


BOT_SUFFIX = "[bot]"


def is_bot_username(username: str) -> bool:
    return username.endswith(BOT_SUFFIX)


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False


class SchemaVersion(BaseModel):
    version = peewee.IntegerField(primary_key=True)
    name = peewee.CharField(max_length=200)
    applied_at = peewee.DateTimeField(default=utcnow)


class User(BaseModel):
    id = peewee.CharField(max_length=36, primary_key=True, default=new_id)
    username = peewee.CharField(max_length=32, unique=True)
    email = peewee.CharField(max_length=254, unique=True)
    display_name = peewee.CharField(max_length=64)
    password_hash = peewee.CharField(max_length=255)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)
    last_seen = peewee.DateTimeField(null=True)
    is_server_admin = peewee.BooleanField(default=False)  # administers the server (migration 10)
    bot_owner = peewee.ForeignKeyField("self", null=True, on_delete="SET NULL", backref="bots", index=True)
    deactivated_at = peewee.DateTimeField(null=True)  # a deleted bot: kept as the author of its messages
    status_text = peewee.CharField(max_length=140, null=True)  # profile (migration 15); null reads as ""
    avatar_file_id = peewee.CharField(max_length=36, null=True)  # an image the user uploaded (migration 15)
    suspended_at = peewee.DateTimeField(null=True)  # suspended by a server admin (migration 15)
    digest_opted_out_at = peewee.DateTimeField(null=True)  # no e-mail digests since (migration 16)
    digest_sent_at = peewee.DateTimeField(null=True)  # the last digest covered notifications until then (16)
    email_verified_at = peewee.DateTimeField(null=True)  # the address proved to be theirs (migration 17)

    @property
    def is_bot(self) -> bool:
        return is_bot_username(self.username)


class RefreshToken(BaseModel):
    """One row per issued refresh token; rotation links a family so reuse can revoke all of it."""
    id = peewee.CharField(max_length=36, primary_key=True, default=new_id)
    user = peewee.ForeignKeyField(User, backref="refresh_tokens", on_delete="CASCADE")
    family_id = peewee.CharField(max_length=36, index=True)
    token_hash = peewee.CharField(max_length=64, unique=True)
    created_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField()
    used_at = peewee.DateTimeField(null=True)
    revoked_at = peewee.DateTimeField(null=True)


class ApiKey(BaseModel):
    id = peewee.CharField(max_length=36, primary_key=True, default=new_id)
    user = peewee.ForeignKeyField(User, backref="api_keys", on_delete="CASCADE")
    name = peewee.CharField(max_length=64)
    key_hash = peewee.CharField(max_length=64, unique=True)
    created_at = peewee.DateTimeField(default=utcnow)
    last_used_at = peewee.DateTimeField(null=True)
    revoked_at = peewee.DateTimeField(null=True)
