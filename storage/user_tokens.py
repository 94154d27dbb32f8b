"""Single-use, expiring tokens e-mailed to a user (password resets, address verification): only their
SHA-256 is stored. Issuing one spends the user's earlier tokens of the same kind; spending one spends
them all."""
from __future__ import annotations

import secrets
from datetime import timedelta

from domain.auth import token_digest
from storage.db import unit_of_work
from storage.models import User, UserToken, utcnow


def issue(kind: type[UserToken], user_id: str, ttl: timedelta) -> str:
    """A new token of ``kind`` for the user (the plain text, to e-mail); their earlier ones stop working."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with unit_of_work():
        kind.update(used_at=now).where((kind.user == user_id) & kind.used_at.is_null()).execute()
        kind.create(user=user_id, token_hash=token_digest(token), expires_at=now + ttl)
    return token


def spend(kind: type[UserToken], token: str) -> str | None:
    """Inside the caller's unit of work: the id of the active user the live token belongs to, having
    spent every token of theirs of this kind; None when it is unknown, used or expired."""
    now = utcnow()
    found = (kind.select(kind, User).join(User)
             .where((kind.token_hash == token_digest(token)) & kind.used_at.is_null() & (kind.expires_at > now)
                    & User.suspended_at.is_null() & User.deactivated_at.is_null()).first())
    if found is None:
        return None
    claimed = kind.update(used_at=now).where((kind.user == found.user_id) & kind.used_at.is_null()).execute()
    return found.user_id if claimed else None
