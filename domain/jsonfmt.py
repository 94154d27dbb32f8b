"""JSON as every client sees it: compact, UTF-8, times as RFC 3339 UTC (``…Z``)."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any


def rfc3339(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"


def default(value: Any) -> Any:
    if isinstance(value, datetime):
        return rfc3339(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=default)
