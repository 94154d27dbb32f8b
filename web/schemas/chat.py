"""Schemas of the Chat routes: rooms, members, DMs, messages, reactions, read state."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from storage.chat_models import ROLES
from web.schemas.common import MAX_INTEGER, MAX_PAGE, JsonBoolean, PageQuery, UtcDateTime
from web.schemas.files import FileSchema


class UserRefSchema(Schema):
    id = fields.String(required=True)
    username = fields.String(required=True)
    display_name = fields.String()


class LastMessageSchema(Schema):
    seq = fields.Integer(required=True)
    user = fields.Nested(UserRefSchema, required=True)
    snippet = fields.String(required=True)
    created_at = UtcDateTime(required=True)


class RoomSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    is_private = fields.Boolean(required=True)
    kind = fields.String(required=True, metadata={"description": "channel | dm"})
    created_by = fields.String(allow_none=True)
    created_at = UtcDateTime(required=True)
    updated_at = UtcDateTime(required=True)
    last_seq = fields.Integer(required=True)
    last_activity_at = UtcDateTime(required=True)
    role = fields.String(allow_none=True, metadata={"description": "the caller's role, null if not a member"})
    unread_count = fields.Integer()
    last_message = fields.Nested(LastMessageSchema, allow_none=True)


class RoomCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    description = fields.String(load_default="", validate=validate.Length(max=2000))
    is_private = JsonBoolean(load_default=False)


class RoomUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=100))
    description = fields.String(validate=validate.Length(max=2000))
    is_private = JsonBoolean()

    @validates_schema
    def _not_empty(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError("nothing to change", field_name="name")


class RoomListQuery(PageQuery):
    scope = fields.String(load_default="joined", validate=validate.OneOf(("joined", "public")))


class MemberSchema(Schema):
    user = fields.Nested(UserRefSchema, required=True)
    role = fields.String(required=True)
    joined_at = UtcDateTime(required=True)
    last_read_seq = fields.Integer(required=True)


class InviteSchema(Schema):
    user_id = fields.String(validate=validate.Length(min=1, max=64))
    username = fields.String(validate=validate.Length(min=1, max=64))
    role = fields.String(load_default="member", validate=validate.OneOf(ROLES))

    @validates_schema
    def _one_target(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("user_id") and not data.get("username"):
            raise ValidationError("user_id or username is required", field_name="user_id")


class MessageSchema(Schema):
    id = fields.String(required=True)
    room_id = fields.String(required=True)
    seq = fields.Integer(required=True)
    user = fields.Nested(UserRefSchema, required=True)
    content = fields.String(required=True)
    reply_to_id = fields.String(allow_none=True)
    thread_root_id = fields.String(allow_none=True)
    attachments = fields.List(fields.Nested(FileSchema), required=True)
    reactions = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), required=True)
    is_edited = fields.Boolean(required=True)
    is_deleted = fields.Boolean(required=True)
    client_msg_id = fields.String(allow_none=True)
    created_at = UtcDateTime(required=True)
    updated_at = UtcDateTime(required=True)


class HistoryQuery(Schema):
    before_seq = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_INTEGER))
    after_seq = fields.Integer(load_default=None, validate=validate.Range(min=0, max=MAX_INTEGER))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE))
    cursor = fields.String(load_default=None)


class ThreadQuery(Schema):
    after_seq = fields.Integer(load_default=None, validate=validate.Range(min=0, max=MAX_INTEGER))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE))


class EditSchema(Schema):
    content = fields.String(required=True, validate=validate.Length(min=1))


class ReactionSchema(Schema):
    emoji = fields.String(required=True, validate=validate.Length(min=1, max=64))


class ReadSchema(Schema):
    seq = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=MAX_INTEGER))


class ReadStateSchema(Schema):
    room_id = fields.String(required=True)
    seq = fields.Integer(required=True)


class OnlineUserSchema(Schema):
    id = fields.String(required=True)
    username = fields.String(required=True)
    display_name = fields.String(required=True)
    status = fields.String(required=True)
    last_seen = UtcDateTime(allow_none=True)
