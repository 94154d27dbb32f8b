"""Shared fields and list envelopes."""
from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, Callable, TypeVar

from marshmallow import Schema, fields, validate

from domain import jsonfmt
from domain.errors import BadRequest
from domain.input_fields import INT64_MAX, Text, json_problem

MAX_PAGE = 200
#: the largest seq or version a client may name: what the databases store (a bigger one would not reach a query)
MAX_INTEGER = INT64_MAX
T = TypeVar("T")


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


def paginate(rows: list[T], limit: int, position: Callable[[T], dict[str, Any] | str]) -> tuple[list[T], str | None]:
    """Rows fetched with ``limit + 1`` → the rows to show and the cursor after the last one shown.

    ``position`` says where the last row is: a dict (encoded as an opaque cursor) or a plain string.
    """
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    where = position(rows[-1])
    return rows, where if isinstance(where, str) else encode_cursor(where)


def encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def is_seq(value: Any) -> bool:
    """A seq as a cursor may carry it: an integer the database can compare (a bool is no seq)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_INTEGER


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(value, dict) and json_problem(value) is None:
            return value
    except (ValueError, RecursionError):
        pass
    raise BadRequest("invalid cursor", {"fields": {"cursor": ["not a cursor returned by this server"]}})
