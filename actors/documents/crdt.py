"""pycrdt behind a guard: decode errors become BadRequest, panics are told apart (they may have partly
applied), and updates whose dependencies are missing are counted and bounded.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import gevent
from pycrdt import Doc, Text, get_update

from domain.errors import BadRequest
from domain.text_delta import EMBED

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


def json_text(text: Text) -> str:
    """The text as JSON clients see it: each embedded object as one U+FFFC (``domain.text_delta``)."""
    chunks = text.diff()
    if len(chunks) == 1 and isinstance(chunks[0][0], str):
        return chunks[0][0]
    return "".join(chunk if isinstance(chunk, str) else EMBED for chunk, _attrs in chunks)


def content_of(snapshot: bytes | None, updates: list[tuple[int, bytes]]) -> str:
    """The text a snapshot and its later updates make; the Doc lives and dies in the calling thread
    (run it on a worker thread: rebuilding is CPU work)."""
    return json_text(text_of(guarded(build, snapshot, updates)))


def state_of(snapshot: bytes | None, updates: list[tuple[int, bytes]]) -> bytes:
    """The whole state a snapshot and its later updates make, as one update (for a new snapshot)."""
    return guarded(build, snapshot, updates).get_update()


def rebuilt(doc: Doc) -> Doc:
    """A copy of ``doc`` holding only what is integrated (pycrdt leaves parked structs out)."""
    return build(doc.get_update(), [])


class Parked:
    """Updates whose dependencies the document lacks. pycrdt keeps such structs aside (pending) and
    integrates them once the dependencies arrive, which is normal for a moment (another instance's
    update still on its way), but meanwhile they hold memory and change nothing. They are counted
    here, and ``over`` says when they pass ``max_bytes`` or ``max_age_s``: the document then drops them
    by rebuilding itself from what is integrated."""

    def __init__(self, max_bytes: int, max_age_s: float) -> None:
        self.max_bytes, self.max_age_s = max_bytes, max_age_s
        self._waiting: list[tuple[bytes, float]] = []  # (update, parked at)
        self.bytes = 0

    def integrated(self, doc: Doc, update: bytes) -> bool:
        """After applying ``update``: True when all of its structs are in ``doc``, else it is parked.
        Also forgets the parked updates that ``update`` completed."""
        state = doc.get_state()
        complete = not _has_structs(get_update(update, state))
        if self._waiting:
            self._waiting = [(u, at) for u, at in self._waiting if _has_structs(get_update(u, state))]
            self.bytes = sum(len(u) for u, _ in self._waiting)
        if not complete:
            self._waiting.append((update, time.monotonic()))
            self.bytes += len(update)
        return complete

    def over(self, now: float | None = None) -> bool:
        if not self._waiting:
            return False
        oldest = self._waiting[0][1]
        return self.bytes > self.max_bytes or ((now or time.monotonic()) - oldest) > self.max_age_s

    def clear(self) -> None:
        self._waiting, self.bytes = [], 0


def _has_structs(update: bytes) -> bool:
    """Whether an update (v1) carries structs: its first varuint counts the clients that have some."""
    return bool(update) and update[0] != 0
