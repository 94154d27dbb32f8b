"""``/api/v1/webhooks``: the caller's webhooks; the secret is shown in full once, at creation.

A URL whose host is or resolves to a non-public address (loopback, private, link-local, …) is refused
unless ``webhooks.allowed_targets`` allows it; the dispatcher checks again at every attempt.
"""
from __future__ import annotations

from typing import Any

import gevent

from domain.errors import BadRequest
from domain.outbound import Refused, policy_for
from storage import webhooks
from web.audit import audit
from web.openapi import Blueprint, answers
from web.schemas.webhooks import WebhookCreateSchema, WebhookSchema, WebhookUpdateSchema
from web.services import principal, services

RESOLVE_TIMEOUT_S = 5.0  # a host whose resolver does not answer by then is refused

blp = Blueprint("webhooks", __name__, url_prefix="/api/v1/webhooks", description="Webhooks")


@blp.route("", methods=["POST"])
@answers(409)
@blp.arguments(WebhookCreateSchema)
@blp.response(201, WebhookSchema)
def create(body: dict[str, Any]) -> dict[str, Any]:
    """Deliveries are signed with ``secret``: keep it, it is not shown again."""
    check_target(body["url"], "url")
    hook = webhooks.create(principal().user_id, body["url"], body["events"])
    audit("webhook.created", hook["id"], events=hook["events"])
    return hook


@blp.route("", methods=["GET"])
@blp.response(200, WebhookSchema(many=True))
def list_webhooks() -> list[dict[str, Any]]:
    return webhooks.list_for(principal().user_id)


@blp.route("/<webhook_id>", methods=["PATCH"])
@blp.arguments(WebhookUpdateSchema)
@blp.response(200, WebhookSchema)
def update(body: dict[str, Any], webhook_id: str) -> dict[str, Any]:
    """Change the URL or events, or turn the webhook off and on (on again clears its failure count)."""
    if "url" in body:
        check_target(body["url"], "url")
    hook = webhooks.update(principal().user_id, webhook_id, body)
    audit("webhook.updated", webhook_id, changed=sorted(body))
    return hook


def check_target(url: str, field: str) -> None:
    """BAD_REQUEST naming ``field`` unless the server may send to ``url`` (webhooks, push endpoints)."""
    try:
        with gevent.Timeout(RESOLVE_TIMEOUT_S, Refused("its host did not resolve in time")):
            policy_for(services().config.webhooks.allowed_targets).target(url)
    except Refused as exc:
        raise BadRequest(f"{field} not allowed", {"fields": {field: [str(exc)]}}) from None


@blp.route("/<webhook_id>", methods=["DELETE"])
@blp.response(204)
def delete(webhook_id: str) -> None:
    """Delete the webhook and drop its pending deliveries."""
    webhooks.delete(principal().user_id, webhook_id)
    audit("webhook.deleted", webhook_id)
