"""Replacing a password: a change by its owner (the current password required) and a reset by e-mail (a
single-use, expiring code: ``storage.user_tokens``).

A change keeps the login that made it and revokes every other; a reset revokes them all.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from domain import logs
from domain.auth import Principal
from domain.errors import BadRequest, Forbidden
from storage import accounts, user_tokens
from storage.auth import AuthService
from storage.db import unit_of_work
from storage.models import PasswordReset, User, utcnow

log = logging.getLogger("confab.auth")


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
    user = accounts.person_with_email(email)
    if user is None:
        return None
    token = user_tokens.issue(PasswordReset, user.id, ttl)
    logs.event(log, "password.reset_requested", user_id=user.id)
    return user, token


def finish_reset(auth: AuthService, token: str, new: str) -> tuple[str, list[str]]:
    """Spend the token and set the password: (user id, every sign-in revoked). BAD_REQUEST naming
    ``token`` when it is unknown, used or expired."""
    auth.check_password(new)
    password_hash = auth.hash_password(new)
    with unit_of_work():
        user_id = user_tokens.spend(PasswordReset, token)
        families = _replace(user_id, password_hash, utcnow(), None) if user_id else []
    if user_id is None:
        logs.event(log, "password.reset_refused", logging.WARNING)
        raise BadRequest("this reset code is invalid, expired or already used",
                         {"fields": {"token": ["invalid, expired or already used"]}})
    auth.forget(families)
    logs.event(log, "password.reset", user_id=user_id, families=len(families))
    return user_id, families
