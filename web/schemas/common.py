"""Shared fields and list envelopes."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import Schema, fields, validate

from domain import jsonfmt
from domain.input_fields import INT64_MAX, Text

MAX_PAGE = 200
#: the largest seq or version a client may name: what the databases store (a bigger one would not reach a query)
MAX_INTEGER = INT64_MAX


class UtcDateTime(fields.DateTime):
    """RFC 3339 UTC with a ``Z``, as docs/protocol.md says every time is."""

    def _serialize(self, value: datetime | str | None, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        """A datetime, or a time already written as RFC 3339 (an object that crossed instances as JSON)."""
        return value if value is None or isinstance(value, str) else jsonfmt.rfc3339(value)


class JsonBoolean(fields.Boolean):
    """A JSON ``true`` or ``false`` in a body: marshmallow's Boolean also takes 0, 1, "yes", "off"…,
    which the document (type boolean) does not promise and a client should not rely on."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class PageQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE))
    cursor = Text(load_default=None, validate=validate.Length(max=512))


_page_schemas: dict[type, type] = {}


def page_of(item: type[Schema]) -> type[Schema]:
    """``{"items": [...], "next_cursor": …}`` around ``item`` (one class per item, for OpenAPI)."""
    if item not in _page_schemas:
        name = item.__name__.removesuffix("Schema") + "PageSchema"
        _page_schemas[item] = type(name, (Schema,), {
            "items": fields.List(fields.Nested(item), required=True),
            "next_cursor": fields.String(allow_none=True, required=True),
        })
    return _page_schemas[item]
