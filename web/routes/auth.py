"""``/api/v1/auth``: register, login, refresh (rotating), logout, me."""
from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from actors.gateway import CloseSessions
from domain.errors import BadRequest
from domain.ws_protocol import CLOSE_POLICY
from storage import accounts
from web.middleware import public, strict_limit
from web.schemas.accounts import LoginSchema, LogoutSchema, RefreshSchema, RegisterSchema, TokensSchema, UserSchema
from web.services import principal, services

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Accounts and tokens")


@blp.route("/register", methods=["POST"])
@public
@strict_limit
@blp.arguments(RegisterSchema)
@blp.response(201, UserSchema)
def register(body: dict[str, Any]) -> dict[str, Any]:
    minimum = services().config.auth.password_min_length
    if len(body["password"]) < minimum:
        raise BadRequest("password too short", {"fields": {"password": [f"at least {minimum} characters"]}})
    return services().auth.register(body["username"], body["email"], body["password"], body.get("display_name"))


@blp.route("/login", methods=["POST"])
@public
@strict_limit
@blp.arguments(LoginSchema)
@blp.response(200, TokensSchema)
def login(body: dict[str, Any]) -> dict[str, Any]:
    return services().auth.login(body.get("username") or body["email"], body["password"])


@blp.route("/refresh", methods=["POST"])
@public
@strict_limit
@blp.arguments(RefreshSchema)
@blp.response(200, TokensSchema)
def refresh(body: dict[str, Any]) -> dict[str, Any]:
    return services().auth.refresh(body["refresh_token"])


@blp.route("/logout", methods=["POST"])
@blp.arguments(LogoutSchema)
@blp.response(204)
def logout(body: dict[str, Any]) -> None:
    """The login's sockets close here at once, on the other instances within a second."""
    families = services().auth.logout(principal(), body.get("refresh_token"))
    if families:
        services().gateway.tell(CloseSessions(CLOSE_POLICY, "logged out", family_ids=frozenset(families)))


@blp.route("/me", methods=["GET"])
@blp.response(200, UserSchema)
def me() -> dict[str, Any]:
    return accounts.user_dict(accounts.get_user(principal().user_id), private=True)
