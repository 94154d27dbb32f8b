"""Schemas of the Webhooks routes."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from domain.input_fields import Text
from storage.webhooks import EVENTS
from web.schemas.common import JsonBoolean, UtcDateTime


def _http_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise ValidationError("must not carry credentials; verify the signature instead")


class WebhookCreateSchema(Schema):
    url = Text(required=True, validate=[validate.Length(min=1, max=2048), _http_url])
    events = fields.List(Text(validate=validate.OneOf(EVENTS)), required=True,
                         validate=validate.Length(min=1, max=len(EVENTS)))


class WebhookUpdateSchema(Schema):
    url = Text(validate=[validate.Length(min=1, max=2048), _http_url])
    events = fields.List(Text(validate=validate.OneOf(EVENTS)),
                         validate=validate.Length(min=1, max=len(EVENTS)))
    is_active = JsonBoolean(metadata={"description": "true turns a disabled webhook back on"})

    @validates_schema
    def _not_empty(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError("nothing to change", field_name="is_active")


class WebhookSchema(Schema):
    id = fields.String(required=True)
    url = fields.String(required=True)
    events = fields.List(fields.String(), required=True)
    secret = fields.String(required=True, metadata={"description": "in full only in the creation answer"})
    is_active = fields.Boolean(required=True)
    created_at = UtcDateTime(required=True)
    failure_count = fields.Integer(required=True, metadata={"description": "failed attempts in a row"})
