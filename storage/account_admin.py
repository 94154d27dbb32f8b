"""Accounts as an operator sees them (the management CLI and the admin routes): any user's sign-in
families and API keys, the server-admin flag, a new password, suspension. Each call is one short unit of
work, like ``storage.accounts``.

A sign-in "session" is a refresh-token family: one login, then every token rotated from it. It is
active while its newest token is neither used, revoked nor expired.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import peewee

from domain.errors import Conflict, NotFound
from storage import accounts
from storage.db import reading, serialize, unit_of_work
from storage.models import ApiKey, RefreshToken, User, utcnow


def find_user(name: str) -> User:
    """The user with this username or e-mail address (case-insensitive), or NotFound."""
    user = accounts.find_user_for_login(name)
    if user is None:
        raise NotFound(f"no user {name!r}")
    return user


def list_users(query: str, limit: int, after_username: str | None) -> list[User]:
    """Every account (people, bots, suspended ones) whose username, display name or e-mail contains
    ``query``, by username."""
    select = User.select().order_by(User.username).limit(limit)
    if query:
        needle = query.lower()
        select = select.where(peewee.fn.LOWER(User.username).contains(needle)
                              | peewee.fn.LOWER(User.display_name).contains(needle) | User.email.contains(needle))
    if after_username:
        select = select.where(User.username > after_username)
    with reading():
        return list(select)


def set_suspended(user_id: str, suspended: bool) -> tuple[User, list[str]]:
    """Suspend (revoking every sign-in: their ids come back, for closing sockets) or reactivate a user.
    Suspending the last admin who can sign in is a CONFLICT (see ``set_server_admin``)."""
    now = utcnow()
    with unit_of_work():
        if suspended:
            serialize(accounts.ADMINS_LOCK)
            if last_admin(user_id):
                raise Conflict("the last server admin who can sign in cannot be suspended")
        changed = (User.update(suspended_at=now if suspended else None, updated_at=now)
                   .where(User.id == user_id).execute())
        if changed != 1:
            raise NotFound("user not found")
        families = accounts.revoke_sign_ins(user_id, now) if suspended else []
        return User.get_by_id(user_id), families


def suspended_since(since: datetime) -> set[str]:
    """Users suspended at or after ``since`` (by any instance), for closing their sockets."""
    with reading():
        return {u.id for u in User.select(User.id).where(User.suspended_at >= since)}


def mark_verified(user_id: str) -> None:
    with unit_of_work():
        User.update(email_verified_at=utcnow()).where(User.id == user_id).execute()


def set_server_admin(user_id: str, is_admin: bool) -> tuple[User, bool]:
    """Grant or revoke the server-admin role; returns the user and whether anything changed. CONFLICT for
    a bot or a deleted account, and for revoking the last admin who can sign in (not suspended): nobody
    would be left to administer the server. Under ``accounts.ADMINS_LOCK``, so two admins revoking each
    other at once cannot both pass that check."""
    with unit_of_work():
        serialize(accounts.ADMINS_LOCK)
        user = User.get_or_none(User.id == user_id)
        if user is None:
            raise NotFound("user not found")
        if user.is_server_admin == is_admin:
            return user, False
        if is_admin and (user.is_bot or user.deactivated_at):
            raise Conflict("a bot or a deleted account cannot be a server admin")
        if not is_admin and last_admin(user_id):
            raise Conflict("the last server admin who can sign in cannot be revoked; grant another first")
        User.update(is_server_admin=is_admin, updated_at=utcnow()).where(User.id == user_id).execute()
        return User.get_by_id(user_id), True


def last_admin(user_id: str) -> bool:
    """Whether ``user_id`` is the only server admin who can sign in (neither suspended nor deleted)."""
    admins = (User.select(User.id).where(User.is_server_admin & User.suspended_at.is_null()
                                         & User.deactivated_at.is_null()).limit(2))
    return [u.id for u in admins] == [user_id]


def replace_password(user_id: str, password_hash: str) -> int:
    """Store the new hash and revoke every refresh token of the user (they sign in again); returns
    how many sign-in families were active."""
    now = utcnow()
    with unit_of_work():
        User.update(password_hash=password_hash, updated_at=now).where(User.id == user_id).execute()
        families = (RefreshToken.select(RefreshToken.family_id).distinct()
                    .where((RefreshToken.user == user_id) & RefreshToken.revoked_at.is_null()
                           & RefreshToken.used_at.is_null() & (RefreshToken.expires_at > now)).count())
        RefreshToken.update(revoked_at=now).where((RefreshToken.user == user_id)
                                                 & RefreshToken.revoked_at.is_null()).execute()
    return families


def sign_in_families(user_id: str | None = None, include_ended: bool = False) -> list[dict[str, Any]]:
    """Refresh-token families, newest first: ``{family_id, user_id, username, started_at, last_refresh_at,
    expires_at, active}``."""
    now = utcnow()
    live = RefreshToken.revoked_at.is_null() & RefreshToken.used_at.is_null() & (RefreshToken.expires_at > now)
    query = (RefreshToken
             .select(RefreshToken.family_id, User.id.alias("user_id"), User.username,
                     peewee.fn.MIN(RefreshToken.created_at).alias("started_at"),
                     peewee.fn.MAX(RefreshToken.created_at).alias("last_refresh_at"),
                     peewee.fn.MAX(RefreshToken.expires_at).alias("expires_at"),
                     peewee.fn.SUM(peewee.Case(None, [(live, 1)], 0)).alias("live"))
             .join(User).group_by(RefreshToken.family_id, User.id, User.username)
             .order_by(peewee.fn.MAX(RefreshToken.created_at).desc()))
    if user_id is not None:
        query = query.where(RefreshToken.user == user_id)
    with reading():
        rows = list(query.dicts())
    families = [{"family_id": row["family_id"], "user_id": row["user_id"], "username": row["username"],
                 "started_at": row["started_at"], "last_refresh_at": row["last_refresh_at"],
                 "expires_at": row["expires_at"], "active": bool(row["live"])} for row in rows]
    return families if include_ended else [family for family in families if family["active"]]


def revoke_family(family_id: str) -> int:
    """Revoke every token of one family; NotFound when no active token has that family."""
    with unit_of_work():
        revoked = (RefreshToken.update(revoked_at=utcnow())
                   .where((RefreshToken.family_id == family_id) & RefreshToken.revoked_at.is_null()).execute())
    if not revoked:
        raise NotFound(f"no active sign-in {family_id!r}")
    return revoked


def revoke_user_families(user_id: str) -> int:
    with unit_of_work():
        return (RefreshToken.update(revoked_at=utcnow())
                .where((RefreshToken.user == user_id) & RefreshToken.revoked_at.is_null()).execute())


def api_keys(user_id: str | None = None) -> list[dict[str, Any]]:
    """Unrevoked API keys, oldest first: ``{id, name, user_id, username, created_at, last_used_at}``."""
    query = (ApiKey.select(ApiKey.id, ApiKey.name, User.id.alias("user_id"), User.username, ApiKey.created_at,
                           ApiKey.last_used_at)
             .join(User).where(ApiKey.revoked_at.is_null()).order_by(ApiKey.created_at))
    if user_id is not None:
        query = query.where(ApiKey.user == user_id)
    with reading():
        return list(query.dicts())


def revoke_api_key(key_id: str) -> str:
    """Revoke one key whoever owns it; returns the owner's id, NotFound if no such unrevoked key."""
    with unit_of_work():
        key = ApiKey.get_or_none((ApiKey.id == key_id) & ApiKey.revoked_at.is_null())
        if key is None:
            raise NotFound(f"no api key {key_id!r}")
        ApiKey.update(revoked_at=utcnow()).where(ApiKey.id == key_id).execute()
    return key.user_id
