"""``/api/v1/users/me``: export your own data; delete your account.

Deleting needs the password (a wrong one counts as a failed login). The account's sockets close at
once here, on the other instances within a second (its sign-ins and keys are revoked).
"""
from __future__ import annotations

from typing import Any

from storage import account_deletion, account_export
from web.audit import audit
from web.middleware import strict_limit
from web.openapi import Blueprint, answers
from web.routes.bots import retire
from web.routes.passwords import confirmed_password
from web.schemas.accounts import AccountDeletionSchema, ExportSchema
from web.services import principal, services

blp = Blueprint("my_account", __name__, url_prefix="/api/v1/users/me", description="Your account")


@blp.route("/export", methods=["GET"])
@strict_limit
@blp.response(200, ExportSchema)
def export() -> dict[str, Any]:
    """Everything stored about the caller, as one JSON object (no secrets)."""
    audit("account.exported", principal().user_id)
    return account_export.export(principal().user_id)


@blp.route("/deletion", methods=["POST"])
@answers(403, 409)
@strict_limit
@blp.arguments(AccountDeletionSchema)
@blp.response(204)
def delete(body: dict[str, Any]) -> None:
    """Messages stay, shown as by "deleted user"; documents go to ``transfer_to`` or are deleted."""
    caller = principal()
    confirmed_password(caller, body["password"], "password")
    heir = account_deletion.heir_for(caller.user_id, body.get("transfer_to")) \
        if body["documents"] == "transfer" else None
    deleted = account_deletion.delete_account(caller.user_id, heir)
    services().auth.forget(deleted.families)
    documents = services().documents
    for document_id in deleted.documents_deleted:
        documents.deleted(document_id)
    for document_id in deleted.documents_transferred:
        documents.access_changed(document_id, caller.user_id, None)
        documents.access_changed(document_id, heir, "owner")
    for user_id, rooms in deleted.rooms_left.items():  # their sockets close too
        retire(user_id, rooms, "account deleted")
    audit("user.deleted", caller.user_id, documents=body["documents"], heir_id=heir,
          document_count=len(deleted.documents_deleted) + len(deleted.documents_transferred))
