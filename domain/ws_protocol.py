"""The /ws JSON protocol as pure functions: text in → a validated frame or an error; dicts → text out.

No sockets here: sessions feed frames in and send what comes out, so the protocol is unit-tested
without a network. Frame schemas are registered by the module that handles the frame type.
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields

from domain import jsonfmt
from domain.errors import BadRequest, DomainError

MAX_REF_LENGTH = 64


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


class PingFrame(Schema):
    type = fields.String()
    ref = fields.Raw()


#: frame type → schema validating the whole frame; modules add theirs with ``register_frame``.
FRAME_SCHEMAS: dict[str, Schema] = {"ping": PingFrame()}


def register_frame(frame_type: str, schema: Schema) -> None:
    FRAME_SCHEMAS[frame_type] = schema


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


def parse_frame(text: str | bytes) -> Frame:
    """Decode and validate one client frame, or raise FrameError (never anything else)."""
    if isinstance(text, bytes):
        raise FrameError(BadRequest("binary frames are not accepted on /ws; send JSON text"), None)
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        raise FrameError(BadRequest("frame is not valid JSON"), None) from None
    ref = _ref_of(raw)
    if not isinstance(raw, dict):
        raise FrameError(BadRequest("frame must be a JSON object"), None)
    try:
        envelope = _Envelope().load(raw)
    except ValidationError as exc:
        raise FrameError(BadRequest("invalid frame", {"fields": exc.messages}), ref) from None
    schema = FRAME_SCHEMAS.get(envelope["type"])
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


def encode(frame: dict[str, Any]) -> str:
    return jsonfmt.dumps(frame)


class WireFrame:
    """A server text frame encoded once and shared by every recipient of a broadcast.

    Server frames are unmasked, so without per-connection compression the same bytes are valid on
    every socket: ``wire`` is the complete RFC 6455 frame, built on first use.
    """
    __slots__ = ("text", "_wire")

    def __init__(self, text: str) -> None:
        self.text = text
        self._wire: bytes | None = None

    @property
    def wire(self) -> bytes:
        if self._wire is None:
            payload = self.text.encode()
            size = len(payload)
            if size < 126:
                header = struct.pack("!BB", 0x81, size)
            elif size < 65536:
                header = struct.pack("!BBH", 0x81, 126, size)
            else:
                header = struct.pack("!BBQ", 0x81, 127, size)
            self._wire = header + payload
        return self._wire


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
