"""``/api/v1/push``: Web Push for a browser whose user opted in. Mentions, DMs and replies reach its
subscriptions while the user has no socket open (``actors.push``)."""
from __future__ import annotations

from typing import Any

from storage import push, push_keys
from storage.secrets import VAPID_KEY_FILE
from web.openapi import Blueprint
from web.routes.webhooks import check_target
from web.schemas.push import PushKeySchema, SubscribeSchema, SubscriptionSchema
from web.services import principal, services

blp = Blueprint("push", __name__, url_prefix="/api/v1/push", description="Web Push")


@blp.route("/key", methods=["GET"])
@blp.response(200, PushKeySchema)
def key() -> dict[str, str]:
    vapid = push_keys.load_or_create(services().config.data_path / VAPID_KEY_FILE)
    return {"public_key": push_keys.application_server_key(vapid)}


@blp.route("/subscriptions", methods=["POST"])
@blp.arguments(SubscribeSchema)
@blp.response(201, SubscriptionSchema)
def subscribe(body: dict[str, Any]) -> dict[str, Any]:
    """The endpoint must be a public address, as for webhooks (``webhooks.allowed_targets`` adds others)."""
    check_target(body["endpoint"], "endpoint")
    keys = body["keys"]
    return push.subscribe(principal().user_id, body["endpoint"], keys["p256dh"], keys["auth"])


@blp.route("/subscriptions/<subscription_id>", methods=["DELETE"])
@blp.response(204)
def unsubscribe(subscription_id: str) -> None:
    push.unsubscribe(principal().user_id, subscription_id)
