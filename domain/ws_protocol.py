"""The /ws JSON protocol as pure functions: text in → a validated frame or an error; dicts → bytes out.

No sockets here: sessions feed frames in and send what comes out, so the protocol is unit-tested
without a network. Each frame type's schema lives beside its handler, in the feature that owns it; the
session passes the schemas of every feature it serves to ``parse_frame``.
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any, Mapping, Protocol

from marshmallow import EXCLUDE, Schema, ValidationError, fields

from domain import jsonfmt
from domain.errors import BadRequest, DomainError

MAX_REF_LENGTH = 64

#: close codes (RFC 6455's, and Confab's own in the 4000s); docs/protocol.md says when each is used
CLOSE_POLICY, CLOSE_TOO_BIG, CLOSE_INTERNAL, CLOSE_TRY_AGAIN = 1008, 1009, 1011, 1013
CLOSE_SERVICE_RESTART = 1012  # graceful stop: this instance's partitions are handed over; reconnect and resume
CLOSE_SLOW_CONSUMER = 4008  # the socket's outbound buffer passed its limit: reconnect and resume
CLOSE_RATE_LIMITED = 4429  # too many refused frames in a row, or too many sockets for one user


@dataclass(frozen=True)
class Frame:
    type: str
    ref: str | None
    data: dict[str, Any]


class _Envelope(Schema):
    class Meta:
        unknown = EXCLUDE

    type = fields.String(required=True)
    ref = fields.Raw(load_default=None)


_ENVELOPE = _Envelope()  # a Schema instance deep-copies its fields when made: once, not per frame


class PingFrame(Schema):
    type = fields.String()
    ref = fields.Raw()


def _ref_of(raw: Any) -> str | None:
    if isinstance(raw, dict):
        ref = raw.get("ref")
        if isinstance(ref, (str, int)) and not isinstance(ref, bool) and len(str(ref)) <= MAX_REF_LENGTH:
            return str(ref)
    return None


class FrameError(Exception):
    """A frame that cannot be accepted; carries the ``ref`` so the error reply can be matched."""

    def __init__(self, error: DomainError, ref: str | None) -> None:
        super().__init__(error.message)
        self.error, self.ref = error, ref


def parse_frame(text: str | bytes, schemas: Mapping[str, Schema]) -> Frame:
    """Decode one client frame and validate it with the schema of its type (``schemas``: frame type →
    schema of the whole frame), or raise FrameError (never anything else)."""
    if isinstance(text, bytes):
        raise FrameError(BadRequest("binary frames are not accepted on /ws; send JSON text"), None)
    try:
        raw = jsonfmt.loads(text)
    except ValueError:
        raise _undecodable(text) from None
    ref = _ref_of(raw)
    if not isinstance(raw, dict):
        raise FrameError(BadRequest("frame must be a JSON object"), None)
    try:
        envelope = _ENVELOPE.load(raw)
    except ValidationError as exc:
        raise FrameError(BadRequest("invalid frame", {"fields": exc.messages}), ref) from None
    schema = schemas.get(envelope["type"])
    if schema is None:
        raise FrameError(BadRequest(f"unknown frame type {envelope['type']!r}",
                                    {"fields": {"type": ["unknown frame type"]}}), ref)
    try:
        data = schema.load(raw)
    except ValidationError as exc:
        raise FrameError(BadRequest(f"invalid {envelope['type']} frame", {"fields": exc.messages}), ref) from None
    data.pop("type", None)
    data.pop("ref", None)
    return Frame(envelope["type"], ref, data)


def _undecodable(text: str) -> FrameError:
    """Why a frame is not acceptable JSON: a lone surrogate (valid JSON escape, not Unicode) is named
    with its field, and the frame's ``ref`` is kept when the ref itself is sound."""
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        return FrameError(BadRequest("frame is not valid JSON"), None)
    path = _surrogate_path(raw)
    if path is None:  # accepted by the standard library only (e.g. NaN): not JSON either
        return FrameError(BadRequest("frame is not valid JSON"), None)
    return FrameError(BadRequest("frame has text that is not valid Unicode",
                                 {"fields": {path or "frame": ["contains a lone surrogate (not a Unicode scalar value)"]}}),
                      _ref_of(raw) if path != "ref" else None)


def _surrogate_path(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (or key) holding a lone surrogate; None when there is none."""
    if isinstance(value, str):
        return path if any("\ud800" <= ch <= "\udfff" for ch in value) else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        where = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and _surrogate_path(key) is not None:
            return where
        found = _surrogate_path(item, where)
        if found is not None:
            return found
    return None


def encode(frame: dict[str, Any]) -> bytes:
    """A server frame's JSON payload."""
    return jsonfmt.dumpb(frame)


class WireFrame:
    """A server frame encoded once and shared by every recipient of a broadcast.

    Server frames are unmasked, so without per-connection compression the same bytes are valid on
    every socket: ``wire`` is the complete RFC 6455 frame (header + payload), built on first use.
    """
    __slots__ = ("payload", "binary", "_wire")

    def __init__(self, payload: bytes, binary: bool = False) -> None:
        self.payload, self.binary = payload, binary
        self._wire: bytes | None = None

    @property
    def wire(self) -> bytes:
        if self._wire is None:
            self._wire = frame_header(len(self.payload), self.binary) + self.payload
        return self._wire


class Sink(Protocol):
    """Where a socket's frames go (its outbox): ``send`` queues and never waits; False once the socket
    is closing or gone. ``close`` starts the closing handshake."""

    def send(self, frame: WireFrame) -> bool: ...

    def close(self, code: int, reason: str) -> None: ...


def frame_header(size: int, binary: bool = False) -> bytes:
    """The header of one unmasked, unfragmented server frame (text or binary) of ``size`` bytes."""
    opcode = 0x82 if binary else 0x81
    if size < 126:
        return struct.pack("!BB", opcode, size)
    if size < 65536:
        return struct.pack("!BBH", opcode, 126, size)
    return struct.pack("!BBQ", opcode, 127, size)


def error_frame(error: DomainError, ref: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "error": {"code": error.code, "message": error.message,
                                                       "details": error.details}}
    if ref is not None:
        frame["ref"] = ref
    return frame


def reply(frame_type: str, ref: str | None, **body: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": frame_type, **body}
    if ref is not None:
        out["ref"] = ref
    return out
