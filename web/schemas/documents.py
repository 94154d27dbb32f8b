"""Schemas of the Documents routes."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from domain.input_fields import Text
from web.schemas.common import MAX_INTEGER, MAX_PAGE, UtcDateTime


class DocumentCreateSchema(Schema):
    title = Text(required=True, validate=validate.Length(min=1, max=200))


class DocumentSchema(Schema):
    id = fields.String(required=True)
    title = fields.String(required=True)
    owner_id = fields.String(required=True)
    version = fields.Integer(required=True)
    created_at = UtcDateTime(required=True)
    updated_at = UtcDateTime(required=True)
    role = fields.String()


class DocumentDetailSchema(DocumentSchema):
    content = fields.String(required=True)


class DocumentHistoryQuery(Schema):
    before = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_INTEGER))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE))


class HistoryItemSchema(Schema):
    version = fields.Integer(required=True)
    author_id = fields.String(required=True)
    created_at = UtcDateTime(required=True)
    size = fields.Integer(required=True)


class VersionSchema(Schema):
    document_id = fields.String(required=True)
    version = fields.Integer(required=True)
    content = fields.String(required=True)


class ShareCreateSchema(Schema):
    user_id = fields.UUID()
    username = Text(validate=validate.Length(min=1, max=32))
    role = Text(required=True, validate=validate.OneOf(["editor", "viewer"]))

    @validates_schema
    def _one_target(self, data: dict[str, Any], **_: Any) -> None:
        if ("user_id" in data) == ("username" in data):
            raise ValidationError("exactly one of user_id or username", field_name="user_id")


class ShareSchema(Schema):
    document_id = fields.String(required=True)
    user_id = fields.String(required=True)
    username = fields.String(required=True)
    role = fields.String(required=True)
    created_at = UtcDateTime(required=True)
