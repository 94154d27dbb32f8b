"""Schemas of the Auth, API key and Users routes."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from domain.input_fields import Text, TextEmail
from web.schemas.common import JsonBoolean, PageQuery, UtcDateTime

USERNAME = validate.Regexp(r"^[A-Za-z0-9_.-]{3,32}$",
                          error="3 to 32 letters, digits, dots, dashes or underscores")


class UserSchema(Schema):
    id = fields.String(required=True)
    username = fields.String(required=True)
    display_name = fields.String(required=True)
    is_bot = fields.Boolean(required=True, metadata={"description": "a bot account (its username ends in [bot])"})
    owner_id = fields.String(allow_none=True, metadata={"description": "a bot's owner; null for people"})
    status_text = fields.String(required=True, metadata={"description": "what the user says they are up to"})
    avatar_url = fields.String(required=True, allow_none=True,
                               metadata={"description": "a signed link to the avatar image (section 5, files)"})
    email = fields.String(metadata={"description": "only to the user themselves and server admins"})
    is_server_admin = fields.Boolean(metadata={"description": "only to the user themselves and server admins"})
    suspended_at = UtcDateTime(allow_none=True,
                               metadata={"description": "only to the user themselves and server admins"})
    email_verified = fields.Boolean(metadata={"description": "only to the user themselves and server admins"})
    email_digest = fields.Boolean(metadata={"description": "unread mentions, DMs and replies e-mailed after a while "
                                                           "away; only to the user themselves and server admins"})
    created_at = UtcDateTime(required=True)
    last_seen = UtcDateTime(allow_none=True)


class RegisterSchema(Schema):
    username = Text(required=True, validate=USERNAME)
    email = TextEmail(required=True, validate=validate.Length(max=254))
    password = Text(required=True, load_only=True, validate=validate.Length(min=1, max=1024),
                    metadata={"description": "at least auth.password_min_length characters (8 by default)"})
    display_name = Text(validate=validate.Length(min=1, max=64))
    invite_code = Text(load_only=True, validate=validate.Length(min=1, max=256),
                       metadata={"description": "required when the server's registration is by invitation"})


class LoginSchema(Schema):
    username = Text(validate=validate.Length(min=1, max=254))
    email = Text(validate=validate.Length(min=1, max=254))
    password = Text(required=True, load_only=True, validate=validate.Length(min=1, max=1024))

    @validates_schema
    def _one_identifier(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("username") and not data.get("email"):
            raise ValidationError("username or email is required", field_name="username")


class RefreshSchema(Schema):
    refresh_token = Text(required=True, validate=validate.Length(min=1, max=512))


class LogoutSchema(Schema):
    refresh_token = Text(validate=validate.Length(min=1, max=512))


class TokensSchema(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    user = fields.Nested(UserSchema, required=True)


class UpdateMeSchema(Schema):
    """Only the fields sent change."""
    display_name = Text(validate=validate.Length(min=1, max=64))
    status_text = Text(validate=validate.Length(max=140))
    avatar_file_id = Text(allow_none=True, validate=validate.Length(min=1, max=36),
                          metadata={"description": "an image the caller uploaded (POST /upload); null removes it"})
    email_digest = JsonBoolean(metadata={"description": "e-mail what I missed while away (default true)"})


class PasswordChangeSchema(Schema):
    current_password = Text(required=True, load_only=True, validate=validate.Length(min=1, max=1024))
    password = Text(required=True, load_only=True, validate=validate.Length(min=1, max=1024),
                    metadata={"description": "the new one: at least auth.password_min_length characters"})


class AccountDeletionSchema(Schema):
    password = Text(required=True, load_only=True, validate=validate.Length(min=1, max=1024))
    documents = Text(required=True, validate=validate.OneOf(("transfer", "delete")),
                     metadata={"description": "what becomes of the documents you own"})
    transfer_to = Text(validate=USERNAME, metadata={"description": "with documents=transfer: who receives them"})


class ExportSchema(Schema):
    user = fields.Nested(UserSchema, required=True)
    rooms = fields.List(fields.Dict(), required=True, metadata={"description": "room objects, with joined_at"})
    messages = fields.List(fields.Dict(), required=True, metadata={"description": "every message you wrote"})
    reactions = fields.List(fields.Dict(), required=True)
    documents = fields.List(fields.Dict(), required=True, metadata={"description": "owned and shared with you"})
    files = fields.List(fields.Dict(), required=True, metadata={"description": "your uploads (without links)"})
    notifications = fields.List(fields.Dict(), required=True)
    api_keys = fields.List(fields.Dict(), required=True, metadata={"description": "never the keys themselves"})
    webhooks = fields.List(fields.Dict(), required=True, metadata={"description": "secrets as hints only"})


class ResetRequestSchema(Schema):
    email = TextEmail(required=True, validate=validate.Length(max=254))


class VerifySchema(Schema):
    token = Text(required=True, load_only=True, validate=validate.Length(min=1, max=512),
                 metadata={"description": "from the e-mail"})


class ResetRequestedSchema(Schema):
    message = fields.String(required=True, metadata={"description": "the same whether or not the address is known"})


class ResetSchema(Schema):
    token = Text(required=True, load_only=True, validate=validate.Length(min=1, max=512),
                 metadata={"description": "from the e-mail"})
    password = Text(required=True, load_only=True, validate=validate.Length(min=1, max=1024))


class UserSearchQuery(PageQuery):
    q = Text(load_default="", validate=validate.Length(max=64))


class ApiKeyCreateSchema(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=64))


class ApiKeySchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    created_at = UtcDateTime(required=True)
    last_used_at = UtcDateTime(allow_none=True)


class ApiKeyCreatedSchema(ApiKeySchema):
    key = fields.String(required=True, metadata={"description": "shown once; store it now"})


class UnsubscribeQuery(Schema):
    sig = Text(required=True, validate=validate.Length(min=1, max=128))


class UnsubscribedSchema(Schema):
    email_digest = fields.Boolean(required=True)
