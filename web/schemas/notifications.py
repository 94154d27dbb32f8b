"""Schemas of the Notifications routes."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from storage.notifications import KINDS
from web.schemas.chat import UserRefSchema
from web.schemas.common import PageQuery, UtcDateTime


class NotificationSchema(Schema):
    id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    room_id = fields.String(allow_none=True, required=True)
    message_id = fields.String(allow_none=True, required=True)
    actor = fields.Nested(UserRefSchema, allow_none=True, required=True)
    snippet = fields.String(required=True)
    created_at = UtcDateTime(required=True)
    read_at = UtcDateTime(allow_none=True, required=True)


class NotificationQuery(PageQuery):
    unread = fields.Boolean(load_default=False, metadata={"description": "only notifications not read yet"})


class NotificationPageSchema(Schema):
    items = fields.List(fields.Nested(NotificationSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)
    unread_count = fields.Integer(required=True)
