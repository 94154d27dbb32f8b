"""``/api/v1/auth``: register, login, refresh (rotating), logout, me.

With ``auth.registration = invite`` only a body carrying ``auth.invite_code`` may register.
"""
from __future__ import annotations

import hmac
from typing import Any

from domain.errors import Forbidden, Unauthorized
from storage import accounts
from web.audit import audit
from web.routes.email_verification import send_verification
from web.middleware import limits, public, strict_limit
from web.openapi import Blueprint, answers
from web.schemas import examples
from web.schemas.accounts import LoginSchema, LogoutSchema, RefreshSchema, RegisterSchema, TokensSchema, UserSchema
from web.services import close_sockets, principal, services

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Accounts and tokens")


@blp.route("/register", methods=["POST"])
@answers(403, 409)
@public
@strict_limit
@blp.arguments(RegisterSchema, example=examples.REGISTER)
@blp.response(201, UserSchema, example=examples.USER)
def register(body: dict[str, Any]) -> dict[str, Any]:
    config = services().config.auth
    if config.registration == "invite" and not _invited(body.get("invite_code", ""), config.invite_code):
        raise Forbidden("registration is by invitation: ask an administrator for the invite code",
                        {"fields": {"invite_code": ["missing or wrong"]}})
    services().auth.check_password(body["password"])
    user = services().auth.register(body["username"], body["email"], body["password"], body.get("display_name"))
    audit("user.registered", user["id"], actor_id=user["id"], server_admin=user["is_server_admin"])
    if config.email_verification == "on":
        send_verification(user["email"])
    return user


def _invited(given: str, code: str) -> bool:
    return bool(code) and hmac.compare_digest(given.encode(), code.encode())


@blp.route("/login", methods=["POST"])
@answers(401, 403)
@public
@strict_limit
@blp.arguments(LoginSchema, example=examples.LOGIN)
@blp.response(200, TokensSchema, example=examples.TOKENS)
def login(body: dict[str, Any]) -> dict[str, Any]:
    account = body.get("username") or body["email"]
    limits().before_login(account)
    try:
        answer = services().auth.login(account, body["password"])
    except Unauthorized:
        limits().login_failed(account)
        audit("login.failed", identifier=account[:64])
        raise
    except Forbidden as refused:
        audit("login.refused", identifier=account[:64], reason=refused.details.get("reason"))
        raise
    audit("login", answer["user"]["id"], actor_id=answer["user"]["id"])
    return answer


@blp.route("/refresh", methods=["POST"])
@answers(401)
@public
@strict_limit
@blp.arguments(RefreshSchema, example=examples.REFRESH)
@blp.response(200, TokensSchema, example=examples.TOKENS)
def refresh(body: dict[str, Any]) -> dict[str, Any]:
    return services().auth.refresh(body["refresh_token"])


@blp.route("/logout", methods=["POST"])
@blp.arguments(LogoutSchema, required=False)
@blp.response(204)
def logout(body: dict[str, Any]) -> None:
    """The login's sockets close here at once, on the other instances within a second."""
    families = services().auth.logout(principal(), body.get("refresh_token"))
    audit("logout", principal().user_id, sessions_revoked=len(families))
    if families:
        close_sockets("logged out", family_ids=frozenset(families))


@blp.route("/me", methods=["GET"])
@blp.response(200, UserSchema, example=examples.USER)
def me() -> dict[str, Any]:
    return accounts.user_dict(accounts.get_user(principal().user_id), private=True)
