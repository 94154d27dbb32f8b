"""Schemas of the search route: the query string and the hits."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from domain.input_fields import Text
from web.schemas.chat import MessageSchema
from web.schemas.common import PageQuery


class SearchQuerySchema(PageQuery):
    q = Text(required=True, validate=validate.Length(min=1, max=200),
                      metadata={"description": 'words (all must match), "a phrase", -excluded; '
                                               "the last word also matches as a prefix"})
    room_id = fields.UUID(load_default=None, metadata={"description": "only this room"})


class RoomRefSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "channel | dm"})


class SearchHitSchema(Schema):
    message = fields.Nested(MessageSchema, required=True)
    room = fields.Nested(RoomRefSchema, required=True)
    snippet = fields.String(required=True, metadata={"description": "HTML: the text escaped, matches in <mark>"})
    rank = fields.Float(required=True, metadata={"description": "relevance, higher is better"})
