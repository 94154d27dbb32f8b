"""Schemas of the Web Push routes."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from domain.input_fields import Text
from web.schemas.common import UtcDateTime

BASE64URL = validate.Regexp(r"^[A-Za-z0-9_-]+={0,2}$", error="base64url")


class PushKeySchema(Schema):
    public_key = fields.String(required=True,
                               metadata={"description": "applicationServerKey for PushManager.subscribe"})


class SubscriptionKeysSchema(Schema):
    p256dh = Text(required=True, validate=[validate.Length(min=80, max=200), BASE64URL])
    auth = Text(required=True, validate=[validate.Length(min=16, max=64), BASE64URL])


class SubscribeSchema(Schema):
    """``PushSubscription.toJSON()`` as the browser gives it."""
    endpoint = Text(required=True, validate=[validate.Length(min=1, max=2048),
                                             validate.URL(schemes={"https", "http"}, require_tld=False)])
    keys = fields.Nested(SubscriptionKeysSchema, required=True)


class SubscriptionSchema(Schema):
    id = fields.String(required=True)
    endpoint = fields.String(required=True)
    created_at = UtcDateTime(required=True)
