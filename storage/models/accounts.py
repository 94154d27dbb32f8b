"""Account models: users, refresh-token families, API keys, the renames of migration 8, the single-use
tokens e-mailed to users (password resets, address verification), and the audit log.

A bot is a user whose username ends in ``[bot]`` (GitHub's convention): no person can register that
suffix, so "is a bot" is visible wherever a username is, with no extra column to load. A bot acts with
API keys only; ``bot_owner`` is the person who manages it (null for an incoming webhook's bot).
"""
from __future__ import annotations

import peewee

from storage.models.base import BaseModel, new_id, utcnow


BOT_SUFFIX = "[bot]"


def is_bot_username(username: str) -> bool:
    return username.endswith(BOT_SUFFIX)


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
    status_text = peewee.CharField(max_length=140, null=True)  # profile (migration 16); null reads as ""
    avatar_file_id = peewee.CharField(max_length=36, null=True)  # an image the user uploaded (migration 16)
    suspended_at = peewee.DateTimeField(null=True)  # suspended by a server admin (migration 16)
    digest_opted_out_at = peewee.DateTimeField(null=True)  # no e-mail digests since (migration 17)
    digest_sent_at = peewee.DateTimeField(null=True)  # the last digest covered notifications until then (16)
    email_verified_at = peewee.DateTimeField(null=True)  # the address proved to be theirs (migration 18)

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


class AccountRename(BaseModel):
    """What migration 8 changed to make names unique whatever their case."""
    user = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="+")
    field = peewee.CharField(max_length=16)  # username | email
    old_value = peewee.CharField(max_length=254)
    new_value = peewee.CharField(max_length=254)
    kept_by = peewee.CharField(max_length=36)  # the account that keeps the old value
    created_at = peewee.DateTimeField(default=utcnow)


class UserToken(BaseModel):
    """The columns every kind shares; each kind is a subclass with a table of its own."""
    id = peewee.CharField(max_length=36, primary_key=True, default=new_id)
    user = peewee.ForeignKeyField(User, on_delete="CASCADE", index=True, backref="+")
    token_hash = peewee.CharField(max_length=64, unique=True)
    created_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField()
    used_at = peewee.DateTimeField(null=True)


class PasswordReset(UserToken):
    """A password reset code (only its SHA-256)."""


class EmailVerification(UserToken):
    """An address verification code (only its SHA-256)."""


class AuditEvent(BaseModel):
    id = peewee.CharField(max_length=36, primary_key=True, default=new_id)
    at = peewee.DateTimeField(default=utcnow, index=True)
    action = peewee.CharField(max_length=64)
    actor_id = peewee.CharField(max_length=36, null=True)
    target_id = peewee.CharField(max_length=64, null=True)
    client_ip = peewee.CharField(max_length=64, null=True)
    request_id = peewee.CharField(max_length=128, null=True)
    detail = peewee.TextField(default="{}")
