"""Verifying a person's e-mail address (``auth.email_verification = on``): a single-use code e-mailed at
registration (and again on request); until it is used, the account cannot sign in."""
from __future__ import annotations

import logging
from datetime import timedelta

from domain import logs
from domain.errors import BadRequest
from storage import accounts, user_tokens
from storage.db import unit_of_work
from storage.models import EmailVerification, User, utcnow

log = logging.getLogger("confab.auth")


def pending_for(email: str, ttl: timedelta) -> tuple[User, str] | None:
    """A new code for the active, unverified person with this address, or None when there is none."""
    user = accounts.person_with_email(email)
    if user is None or user.email_verified_at is not None:
        return None
    return user, user_tokens.issue(EmailVerification, user.id, ttl)


def verify(token: str) -> str:
    """Spend the code and mark its user's address verified; their id. BAD_REQUEST naming ``token`` when
    the code is unknown, used or expired."""
    with unit_of_work():
        user_id = user_tokens.spend(EmailVerification, token)
        if user_id is not None:
            User.update(email_verified_at=utcnow()).where(User.id == user_id).execute()
    if user_id is None:
        logs.event(log, "email.verify_refused", logging.WARNING)
        raise BadRequest("this code is invalid, expired or already used",
                         {"fields": {"token": ["invalid, expired or already used"]}})
    logs.event(log, "email.verified", user_id=user_id)
    return user_id
