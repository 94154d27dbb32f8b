"""Schemas of the Bots and Incoming webhooks routes."""
from __future__ import annotations

import json
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate, validates_schema

from domain.input_fields import Text
from storage.bots import NAME_LENGTH
from web.schemas.accounts import ApiKeyCreatedSchema, UserSchema
from web.schemas.chat import UserRefSchema
from web.schemas.common import UtcDateTime

BOT_NAME = validate.Regexp(rf"^[A-Za-z0-9_.-]{{3,{NAME_LENGTH}}}$",
                           error=f"3 to {NAME_LENGTH} letters, digits, dots, dashes or underscores")


class BotCreateSchema(Schema):
    name = Text(required=True, validate=BOT_NAME,
                metadata={"description": "the bot's username is this name followed by [bot]"})
    display_name = Text(validate=validate.Length(min=1, max=64))


class BotCreatedSchema(Schema):
    bot = fields.Nested(UserSchema, required=True)
    api_key = fields.Nested(ApiKeyCreatedSchema, required=True, metadata={"description": "shown once"})


class BotKeyCreateSchema(Schema):
    name = Text(load_default="default", validate=validate.Length(min=1, max=64))


class IncomingWebhookCreateSchema(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=64),
                metadata={"description": "shown as the webhook bot's display name"})


class IncomingWebhookSchema(Schema):
    id = fields.String(required=True)
    room_id = fields.String(required=True)
    name = fields.String(required=True)
    bot = fields.Nested(UserRefSchema, required=True)
    created_by = fields.String(allow_none=True)
    created_at = UtcDateTime(required=True)


class IncomingWebhookCreatedSchema(IncomingWebhookSchema):
    url = fields.String(required=True, metadata={"description": "the secret URL to POST to; shown once"})


class SlackFormSchema(Schema):
    payload = fields.String(required=True, metadata={"description": "the JSON body, as Slack's clients send it"})


class IncomingPostSchema(Schema):
    """``{"content"}`` or Slack's ``{"text"}`` (JSON, or a form with the JSON in ``payload``); other Slack
    fields (``channel``, ``icon_emoji``, ``blocks``…) are ignored."""
    class Meta:
        unknown = EXCLUDE

    content = Text(validate=validate.Length(min=1))
    text = Text(validate=validate.Length(min=1))
    username = Text(validate=validate.Length(min=1, max=64),
                    metadata={"description": "the name shown on this message instead of the bot's"})
    client_msg_id = Text(validate=validate.Length(min=1, max=64),
                         metadata={"description": "idempotency key for retries"})

    @pre_load
    def _slack_form(self, data: Any, **_: Any) -> Any:
        """Slack's form encoding: ``payload=<the JSON body>``."""
        if hasattr(data, "get") and isinstance(data.get("payload"), str):
            try:
                decoded = json.loads(data["payload"])
            except (ValueError, RecursionError):
                raise ValidationError("not JSON", "payload") from None
            if not isinstance(decoded, dict):
                raise ValidationError("not a JSON object", "payload")
            return decoded
        return data

    @validates_schema
    def _has_text(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("content") and not data.get("text"):
            raise ValidationError("content (or text) is required", "content")
