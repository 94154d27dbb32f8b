"""``/api/v1/auth/password``: change your password; reset a forgotten one by e-mail.

A reset request answers 202 whatever the address, and at once: the code is stored and e-mailed after
the answer (``after_answer``), so neither the answer nor its timing tells which addresses have accounts
(``bench/accounts.py`` measures it).
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.account_mail import RESET, code_message
from domain.auth import Principal
from domain.errors import Forbidden
from storage import passwords
from web.audit import audit
from web.middleware import limits, public, strict_limit
from web.openapi import Blueprint, answers
from web.schemas.accounts import PasswordChangeSchema, ResetRequestedSchema, ResetRequestSchema, ResetSchema
from web.services import after_answer, close_sockets, principal, services

blp = Blueprint("passwords", __name__, url_prefix="/api/v1/auth", description="Passwords")


def _close_sessions(families: list[str], reason: str) -> None:
    if families:
        close_sockets(reason, family_ids=frozenset(families))


@blp.route("/password", methods=["POST"])
@answers(403)
@strict_limit
@blp.arguments(PasswordChangeSchema)
@blp.response(204)
def change_password(body: dict[str, Any]) -> None:
    """Keeps the caller's login; every other one is revoked and its sockets closed (1008)."""
    caller = principal()
    confirmed_password(caller, body["current_password"], "current_password")
    families = passwords.change(services().auth, caller, body["password"])
    audit("password.changed", caller.user_id, sessions_revoked=len(families))
    _close_sessions(families, "password changed")


def confirmed_password(caller: Principal, password: str, field: str) -> None:
    """The caller's password, or FORBIDDEN naming ``field``; a wrong one counts as a failed login."""
    limits().before_login(caller.username)
    try:
        passwords.confirm(services().auth, caller, password, field)
    except Forbidden:
        limits().login_failed(caller.username)
        audit("password.confirm_failed", caller.user_id)
        raise


@blp.route("/password-reset", methods=["POST"])
@public
@strict_limit
@blp.arguments(ResetRequestSchema)
@blp.response(202, ResetRequestedSchema)
def request_reset(body: dict[str, Any]) -> dict[str, str]:
    """E-mails a single-use code to the address if an account has it; the same answer either way."""
    email = body["email"].lower()
    limits().check(limits().reset_requests, email)
    after_answer(_send_reset_code, email)  # the same answer in the same time, account or not
    return {"message": "if an account has this address, a reset code is on its way"}


def _send_reset_code(email: str) -> None:
    config = services().config.email
    found = passwords.start_reset(email, timedelta(seconds=config.reset_ttl_s))
    if found is not None:
        user, token = found
        audit("password.reset_requested", user.id)
        services().mailer.send(user.email, "Reset your Confab password", code_message(
            RESET, user.display_name, config.base_url, token, config.reset_ttl_s // 60))


@blp.route("/password-reset/confirm", methods=["POST"])
@public
@strict_limit
@blp.arguments(ResetSchema)
@blp.response(204)
def confirm_reset(body: dict[str, Any]) -> None:
    """Sets the password; every login of the user is revoked and their sockets closed (1008)."""
    user_id, families = passwords.finish_reset(services().auth, body["token"], body["password"])
    audit("password.reset", user_id, actor_id=user_id, sessions_revoked=len(families))
    _close_sessions(families, "password reset")
