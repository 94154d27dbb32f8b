"""Opaque page cursors: only the web layer writes and reads them; storage pages on typed positions.

A cursor is a small JSON object in base64url. Each list reads its cursors with a *shape*: a function
that turns the object into what the list's query compares (a time and an id, a rank and an id, a seq)
and raises ``KeyError``, ``TypeError`` or ``ValueError`` on anything else. So a cursor this server did
not write gets one answer wherever it is sent (400 ``invalid cursor``), and never reaches a query.
"""
from __future__ import annotations

import base64
import json
import math
import re
from datetime import datetime, timezone
from typing import Any, Callable, TypeVar

from domain.errors import BadRequest
from domain.input_fields import INT64_MAX, json_problem

P = TypeVar("P")
T = TypeVar("T")
Shape = Callable[[dict[str, Any]], P]
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def invalid_cursor() -> BadRequest:
    return BadRequest("invalid cursor", {"fields": {"cursor": ["not a cursor returned by this server"]}})


def encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def read_cursor(cursor: str | None, shape: Shape[P]) -> P | None:
    """The position ``cursor`` names, read by ``shape``; None without a cursor (the first page)."""
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(value, dict) and json_problem(value) is None:
            return shape(value)
    except (KeyError, TypeError, ValueError, RecursionError):
        pass
    raise invalid_cursor()


def paginate(rows: list[T], limit: int, position: Callable[[T], dict[str, Any] | str]) -> tuple[list[T], str | None]:
    """Rows fetched with ``limit + 1`` → the rows to show and the cursor after the last one shown.

    ``position`` says where the last row is: a dict (encoded as an opaque cursor) or a plain string
    (a document's history pages on ``before=<version>``, a number the client may also write).
    """
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    where = position(rows[-1])
    return rows, where if isinstance(where, str) else encode_cursor(where)


def is_seq(value: Any) -> bool:
    """An integer the database can compare as a seq (a bool is no seq)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= INT64_MAX


# --- shapes -------------------------------------------------------------------------------------------

def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not text")
    return value


def after_name(position: dict[str, Any]) -> str:
    """``{"after": name}``: lists ordered by a name or an id."""
    return _text(position["after"])


def time_and_id(time_key: str) -> Shape[tuple[datetime, str]]:
    """``{time_key: RFC 3339 time, "id": id}``: lists ordered by a time, ties by id."""
    def shape(position: dict[str, Any]) -> tuple[datetime, str]:
        at = datetime.fromisoformat(_text(position[time_key]).removesuffix("Z"))
        if at.tzinfo is not None:  # the databases store naive UTC
            at = at.astimezone(timezone.utc).replace(tzinfo=None)
        return at, _text(position["id"])
    return shape


def rank_and_id(position: dict[str, Any]) -> tuple[float, str]:
    """``{"rank": float, "id": message id}``: search hits, best first."""
    rank, message_id = position["rank"], _text(position["id"])
    if isinstance(rank, float) and math.isfinite(rank) and _UUID.fullmatch(message_id):
        return rank, message_id
    raise ValueError("not a search position")


def seq_bound(position: dict[str, Any]) -> tuple[str, int]:
    """``{"before": seq}`` or ``{"after": seq}``: a room's history, paged either way."""
    (direction, seq), = position.items()
    if direction in ("before", "after") and is_seq(seq):
        return direction, seq
    raise ValueError("not a history position")
