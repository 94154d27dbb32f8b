"""``/api/v1/admin``: what a server admin (``users.is_server_admin``) may do: list every account, suspend
and reactivate one, grant and revoke the server-admin role, read the audit log. Anyone else is FORBIDDEN.

A suspension revokes every sign-in of the user and closes their sockets here at once (every other
instance within a second); their logins and API keys are refused until they are reactivated.
"""
from __future__ import annotations

from typing import Any

from flask import g

from domain.errors import Conflict, Forbidden
from storage import account_admin, accounts, audit as audit_log
from web.audit import audit
from web.cursors import after_name, paginate, read_cursor, time_and_id
from web.openapi import Blueprint, answers
from web.schemas.accounts import UserSchema
from web.schemas.admin import AdminUserQuery, AuditEventSchema, AuditQuery, ServerAdminSchema
from web.schemas.common import page_of
from web.services import close_sockets, principal, services

blp = Blueprint("admin", __name__, url_prefix="/api/v1/admin", description="Administration (server admins)")


@blp.before_request
def _admins_only() -> None:
    if "principal" in g and not accounts.get_user(principal().user_id).is_server_admin:
        raise Forbidden("server admins only")


@blp.route("/users", methods=["GET"])
@answers(403)
@blp.arguments(AdminUserQuery, location="query")
@blp.response(200, page_of(UserSchema))
def users(query: dict[str, Any]) -> dict[str, Any]:
    """Every account, suspended ones and bots included, with e-mail, admin flag and suspension."""
    after = read_cursor(query["cursor"], after_name)
    rows, cursor = paginate(account_admin.list_users(query["q"], query["limit"] + 1, after), query["limit"],
                            lambda last: {"after": last.username})
    return {"items": [accounts.user_dict(u, private=True) for u in rows], "next_cursor": cursor}


@blp.route("/users/<user_id>/suspend", methods=["POST"])
@answers(403, 409)
@blp.response(200, UserSchema)
def suspend(user_id: str) -> dict[str, Any]:
    """Idempotent. An admin cannot suspend themselves (CONFLICT): someone must be left to reactivate."""
    if user_id == principal().user_id:
        raise Conflict("you cannot suspend yourself")
    user, families = account_admin.set_suspended(user_id, True)
    services().auth.forget(families)
    close_sockets("account suspended", user_id=user_id)
    audit("user.suspended", user_id, sessions_revoked=len(families))
    return accounts.user_dict(user, private=True)


@blp.route("/users/<user_id>/reactivate", methods=["POST"])
@answers(403)
@blp.response(200, UserSchema)
def reactivate(user_id: str) -> dict[str, Any]:
    """The user signs in again; their API keys work again."""
    user, _ = account_admin.set_suspended(user_id, False)
    audit("user.reactivated", user_id)
    return accounts.user_dict(user, private=True)


@blp.route("/users/<user_id>/server-admin", methods=["PUT"])
@answers(403, 409)
@blp.arguments(ServerAdminSchema)
@blp.response(200, UserSchema)
def server_admin(body: dict[str, Any], user_id: str) -> dict[str, Any]:
    """Grant or revoke the server-admin role; idempotent (audited only when it changes). Revoking the last
    admin who can sign in (oneself, when alone) is a CONFLICT; a bot or a deleted account cannot be granted
    it (CONFLICT). A revoked admin's next request to these routes is FORBIDDEN."""
    user, changed = account_admin.set_server_admin(user_id, body["is_server_admin"])
    if changed:
        audit("admin.granted" if user.is_server_admin else "admin.revoked", user_id)
    return accounts.user_dict(user, private=True)


@blp.route("/audit", methods=["GET"])
@answers(403)
@blp.arguments(AuditQuery, location="query")
@blp.response(200, page_of(AuditEventSchema))
def audit_events(query: dict[str, Any]) -> dict[str, Any]:
    """Security and administration events, newest first."""
    before = read_cursor(query["cursor"], time_and_id("at"))
    rows, cursor = paginate(audit_log.newest(query["limit"] + 1, before, query["action"]), query["limit"],
                            lambda last: {"at": last.at.isoformat(), "id": last.id})
    return {"items": [audit_log.event_dict(e) for e in rows], "next_cursor": cursor}
