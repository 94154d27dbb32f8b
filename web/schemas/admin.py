"""Schemas of the Administration routes."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from domain.input_fields import Text
from web.schemas.common import JsonBoolean, PageQuery, UtcDateTime


class AdminUserQuery(PageQuery):
    q = Text(load_default="", validate=validate.Length(max=254),
             metadata={"description": "part of a username, display name or e-mail address"})


class ServerAdminSchema(Schema):
    is_server_admin = JsonBoolean(required=True, metadata={"description": "true grants the role, false revokes it"})


class AuditQuery(PageQuery):
    action = Text(load_default=None, validate=validate.Length(min=1, max=64),
                  metadata={"description": "only events of this action (`login.failed`, `user.suspended`, …)"})


class AuditEventSchema(Schema):
    id = fields.String(required=True)
    at = UtcDateTime(required=True)
    action = fields.String(required=True)
    actor_id = fields.String(required=True, allow_none=True, metadata={"description": "null: anonymous or the CLI"})
    target_id = fields.String(required=True, allow_none=True)
    client_ip = fields.String(required=True, allow_none=True)
    request_id = fields.String(required=True, allow_none=True)
    detail = fields.Dict(required=True, metadata={"description": "ids, names and counts; never a secret"})
