"""pycrdt behind a guard: decode errors become BadRequest, panics are told apart (they may have partly applied)."""
from __future__ import annotations

from typing import Any, Callable

import gevent
from pycrdt import Doc, Text

from domain.errors import BadRequest

TEXT_NAME = "content"


class CrdtPanic(Exception):
    """pyo3 panicked inside pycrdt: the in-memory document may be half-changed and must be reloaded."""


def guarded(fn: Callable[..., Any], *args: Any) -> Any:
    """Call into pycrdt; ValueError → BadRequest (nothing applied); any other BaseException → CrdtPanic."""
    try:
        return fn(*args)
    except ValueError as exc:
        raise BadRequest(f"invalid CRDT data: {exc}") from None
    except (gevent.GreenletExit, SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:  # noqa: BLE001 — pyo3's PanicException is a BaseException
        raise CrdtPanic(f"{type(exc).__name__}: {exc}") from None


def build(snapshot: bytes | None, updates: list[tuple[int, bytes]]) -> Doc:
    """A Doc from a snapshot and the updates after it (both already durable, so trusted)."""
    doc = Doc()
    doc.get(TEXT_NAME, type=Text)
    if snapshot:
        doc.apply_update(snapshot)
    for _version, update in updates:
        doc.apply_update(update)
    return doc


def text_of(doc: Doc) -> Text:
    return doc.get(TEXT_NAME, type=Text)
