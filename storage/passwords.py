"""Replacing a password: a change by its owner (the current password required) and a reset by e-mail (a
single-use, expiring token, stored as its SHA-256 only).

A change keeps the login that made it and revokes every other; a reset revokes them all. Asking for a
reset again spends the earlier tokens; redeeming one spends every token of the user.
"""
from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

import peewee

from domain import logs
from domain.auth import Principal, token_digest
from domain.errors import BadRequest, Forbidden
from storage import accounts
from storage.auth import AuthService
from storage.db import unit_of_work
from storage.models import BaseModel, User, new_id, utcnow

log = logging.getLogger("confab.auth")


class PasswordReset(BaseModel):
    id = peewee.CharField(max_length=36, primary_key=True, default=new_id)
    user = peewee.ForeignKeyField(User, on_delete="CASCADE", index=True)
    token_hash = peewee.CharField(max_length=64, unique=True)
    created_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField()
    used_at = peewee.DateTimeField(null=True)


def _replace(user_id: str, password_hash: str, now: datetime, keep_family: str | None) -> list[str]:
    """Inside a unit of work: store the hash, revoke the user's sign-ins but ``keep_family``; their ids."""
    User.update(password_hash=password_hash, updated_at=now).where(User.id == user_id).execute()
    return accounts.revoke_sign_ins(user_id, now, keep_family)


def confirm(auth: AuthService, caller: Principal, password: str, field: str) -> None:
    """What a change or an account deletion asks first: the caller's password. FORBIDDEN naming
    ``field`` when it is wrong, or for an API key (bots have no password)."""
    if caller.kind != "user":
        raise Forbidden("sign in with your password for this")
    if not auth.password_matches(accounts.get_user(caller.user_id).password_hash, password):
        logs.event(log, "password.confirm_refused", logging.WARNING, user_id=caller.user_id)
        raise Forbidden("the password is wrong", {"fields": {field: ["wrong password"]}})


def change(auth: AuthService, caller: Principal, new: str) -> list[str]:
    """The (confirmed) caller's new password; returns the other sign-ins revoked (their sockets are to
    be closed)."""
    auth.check_password(new)
    password_hash = auth.hash_password(new)
    with unit_of_work():
        families = _replace(caller.user_id, password_hash, utcnow(), caller.family_id)
    auth.forget(families)
    logs.event(log, "password.changed", user_id=caller.user_id, families=len(families))
    return families


def start_reset(email: str, ttl: timedelta) -> tuple[User, str] | None:
    """A reset token for the active person with this address, or None when there is none; earlier
    tokens of theirs stop working."""
    user = accounts.find_user_for_login(email) if "@" in email else None
    if user is None or user.is_bot or user.suspended_at is not None or user.deactivated_at is not None:
        return None
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with unit_of_work():
        (PasswordReset.update(used_at=now)
         .where((PasswordReset.user == user.id) & PasswordReset.used_at.is_null()).execute())
        PasswordReset.create(user=user.id, token_hash=token_digest(token), expires_at=now + ttl)
    logs.event(log, "password.reset_requested", user_id=user.id)
    return user, token


def finish_reset(auth: AuthService, token: str, new: str) -> tuple[str, list[str]]:
    """Spend the token and set the password: (user id, every sign-in revoked). BAD_REQUEST naming
    ``token`` when it is unknown, used or expired."""
    auth.check_password(new)
    password_hash = auth.hash_password(new)
    now = utcnow()
    with unit_of_work():
        reset = (PasswordReset.select(PasswordReset, User).join(User)
                 .where((PasswordReset.token_hash == token_digest(token)) & PasswordReset.used_at.is_null()
                        & (PasswordReset.expires_at > now) & User.suspended_at.is_null()).first())
        claimed = reset is not None and (
            PasswordReset.update(used_at=now)
            .where((PasswordReset.user == reset.user_id) & PasswordReset.used_at.is_null()).execute())
        families = _replace(reset.user_id, password_hash, now, None) if claimed else []
    if not claimed:
        logs.event(log, "password.reset_refused", logging.WARNING)
        raise BadRequest("this reset link is invalid, expired or already used",
                         {"fields": {"token": ["invalid, expired or already used"]}})
    auth.forget(families)
    logs.event(log, "password.reset", user_id=reset.user_id, families=len(families))
    return reset.user_id, families
