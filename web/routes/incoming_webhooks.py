"""Incoming webhooks: room admins manage them under ``/api/v1/rooms/{id}/incoming-webhooks``; anyone
holding the secret URL ``POST /hooks/{id}/{secret}`` posts into the room as the webhook's bot, through
the same send path as REST and /ws, under the bot's send rate limit (so, per webhook)."""
from __future__ import annotations

import logging
from typing import Any

from flask import request

from domain import logs
from domain.errors import NotFound
from storage import incoming_webhooks
from web.audit import audit
from web.messaging import send_message
from web.middleware import public
from web.openapi import Blueprint, answers
from web.routes.bots import retire
from web.schemas.bots import (IncomingPostSchema, IncomingWebhookCreatedSchema, IncomingWebhookCreateSchema,
                              IncomingWebhookSchema, SlackFormSchema)
from web.schemas.chat import MessageSchema
from web.services import principal, services

blp = Blueprint("incoming_webhooks", __name__, url_prefix="", description="Incoming webhooks")
ROUTE = "/api/v1/rooms/<room_id>/incoming-webhooks"
log = logging.getLogger("confab.incoming_webhooks")


@blp.route(ROUTE, methods=["POST"])
@answers(403, 409)
@blp.arguments(IncomingWebhookCreateSchema)
@blp.response(201, IncomingWebhookCreatedSchema)
def create(body: dict[str, Any], room_id: str) -> dict[str, Any]:
    """Room admins. The answer's ``url`` holds the secret: it is not shown again (only its hash is kept)."""
    hook, secret = incoming_webhooks.create(principal().user_id, room_id, body["name"])
    logs.event(log, "incoming_webhook.created", webhook_id=hook["id"], room_id=room_id, bot_id=hook["bot"]["id"])
    audit("incoming_webhook.created", hook["id"], room_id=room_id)
    services().chat.member_invited(room_id, hook["bot"])  # the admin added it: the room hears user_joined
    return {**hook, "url": f"{request.host_url.rstrip('/')}/hooks/{hook['id']}/{secret}"}


@blp.route(ROUTE, methods=["GET"])
@answers(403)
@blp.response(200, IncomingWebhookSchema(many=True))
def list_webhooks(room_id: str) -> list[dict[str, Any]]:
    return incoming_webhooks.list_for_room(principal().user_id, room_id)


@blp.route(ROUTE + "/<webhook_id>", methods=["DELETE"])
@answers(403)
@blp.response(204)
def revoke(room_id: str, webhook_id: str) -> None:
    """Revoke: its URL stops working at once and its bot leaves the room."""
    bot_id = incoming_webhooks.revoke(principal().user_id, room_id, webhook_id)
    logs.event(log, "incoming_webhook.revoked", webhook_id=webhook_id, room_id=room_id)
    audit("incoming_webhook.revoked", webhook_id, room_id=room_id)
    retire(bot_id, [room_id])


@blp.route("/hooks/<webhook_id>/<secret>", methods=["POST"])
@public
@answers(403)
@blp.arguments(IncomingPostSchema, location="json_or_form")
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": IncomingPostSchema},
                                                    "application/x-www-form-urlencoded": {"schema": SlackFormSchema}}})
@blp.response(200, MessageSchema)
def post(body: dict[str, Any], webhook_id: str, secret: str) -> dict[str, Any]:
    """Public: the secret in the path is the credential. Answers 200 (as Slack does) with the stored
    message; an unknown, wrong or revoked webhook is NOT_FOUND."""
    try:
        target = incoming_webhooks.resolve(webhook_id, secret)
    except NotFound:
        logs.event(log, "incoming_webhook.refused", logging.WARNING, webhook_id=webhook_id[:64])
        raise
    draft = {"content": body.get("content") or body["text"], "client_msg_id": body.get("client_msg_id")}
    message, _ = send_message(target.bot_id, target.room_id, draft, display_name=body.get("username"))
    return message
