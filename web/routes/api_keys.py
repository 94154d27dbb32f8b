"""``/api/v1/api-keys``: keys for bots and services; the key itself is shown once."""
from __future__ import annotations

from typing import Any

from storage import accounts
from web.audit import audit
from web.openapi import Blueprint
from web.schemas.accounts import ApiKeyCreatedSchema, ApiKeyCreateSchema, ApiKeySchema
from web.services import close_sockets, principal, services

blp = Blueprint("api_keys", __name__, url_prefix="/api/v1/api-keys", description="API keys")


@blp.route("", methods=["POST"])
@blp.arguments(ApiKeyCreateSchema)
@blp.response(201, ApiKeyCreatedSchema)
def create(body: dict[str, Any]) -> dict[str, Any]:
    key = services().auth.create_api_key(principal().user_id, body["name"])
    audit("api_key.created", key["id"], name=key["name"], owner_id=principal().user_id)
    return key


@blp.route("", methods=["GET"])
@blp.response(200, ApiKeySchema(many=True))
def list_keys() -> list[Any]:
    return accounts.list_api_keys(principal().user_id)


@blp.route("/<key_id>", methods=["DELETE"])
@blp.response(204)
def delete(key_id: str) -> None:
    accounts.revoke_api_key(principal().user_id, key_id)
    audit("api_key.revoked", key_id, owner_id=principal().user_id)
    # here at once; the other instances within a second (actors.revocations)
    close_sockets("api key revoked", api_key_ids=frozenset({key_id}))
