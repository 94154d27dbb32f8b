"""The y-websocket protocol as pure functions: one binary WebSocket message in → a typed message; out → bytes.

Framing (y-protocols): ``varuint message_type`` then, for SYNC (0), ``varuint substep`` (0 step 1,
1 step 2, 2 update) and a varuint-length-prefixed payload; for AWARENESS (1), a length-prefixed
awareness update. Types 2 (auth) and 3 (query awareness) are recognised; anything else, a truncated
varuint or a length that overruns the message, is a ``ProtocolError`` — never an IndexError from
deep inside a decoder. No sockets and no CRDT here: the document actor decides what a message does.
"""
from __future__ import annotations

from dataclasses import dataclass

from pycrdt import Encoder

MSG_SYNC, MSG_AWARENESS, MSG_AUTH, MSG_QUERY_AWARENESS = 0, 1, 2, 3
SYNC_STEP1, SYNC_STEP2, SYNC_UPDATE = 0, 1, 2
_MAX_VARUINT_BYTES = 10


class ProtocolError(ValueError):
    """A message that is not valid y-websocket framing."""


@dataclass(frozen=True)
class SyncStep1:
    state_vector: bytes


@dataclass(frozen=True)
class SyncStep2:
    update: bytes


@dataclass(frozen=True)
class SyncUpdate:
    update: bytes


@dataclass(frozen=True)
class AwarenessUpdate:
    payload: bytes


@dataclass(frozen=True)
class QueryAwareness:
    pass


@dataclass(frozen=True)
class Ignored:
    """A well-formed message the server has no use for (auth)."""
    message_type: int


Message = SyncStep1 | SyncStep2 | SyncUpdate | AwarenessUpdate | QueryAwareness | Ignored


class Reader:
    """Bounds-checked varuint / length-prefixed reads over one message."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def varuint(self) -> int:
        value = shift = 0
        for _ in range(_MAX_VARUINT_BYTES):
            if self._pos >= len(self._data):
                raise ProtocolError("truncated varuint")
            byte = self._data[self._pos]
            self._pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7
        raise ProtocolError("varuint too long")

    def var_bytes(self) -> bytes:
        length = self.varuint()
        end = self._pos + length
        if end > len(self._data):
            raise ProtocolError("length prefix overruns the message")
        chunk = self._data[self._pos:end]
        self._pos = end
        return chunk

    def var_string(self) -> str:
        try:
            return self.var_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("string is not UTF-8") from None

    @property
    def done(self) -> bool:
        return self._pos >= len(self._data)


def parse(data: bytes) -> Message:
    """Decode one WebSocket message; raises ProtocolError for anything malformed."""
    if not isinstance(data, (bytes, bytearray)):
        raise ProtocolError("y-websocket messages are binary")
    reader = Reader(bytes(data))
    kind = reader.varuint()
    if kind == MSG_SYNC:
        step = reader.varuint()
        payload = reader.var_bytes()
        if step == SYNC_STEP1:
            return SyncStep1(payload)
        if step == SYNC_STEP2:
            return SyncStep2(payload)
        if step == SYNC_UPDATE:
            return SyncUpdate(payload)
        raise ProtocolError(f"unknown sync step {step}")
    if kind == MSG_AWARENESS:
        payload = reader.var_bytes()
        validate_awareness(payload)
        return AwarenessUpdate(payload)
    if kind == MSG_QUERY_AWARENESS:
        return QueryAwareness()
    if kind == MSG_AUTH:
        return Ignored(kind)
    raise ProtocolError(f"unknown message type {kind}")


def validate_awareness(payload: bytes) -> list[int]:
    """Check an awareness update's framing; returns the client ids it carries."""
    return [client_id for client_id, _clock, _state in awareness_entries(payload)]


def awareness_entries(payload: bytes) -> list[tuple[int, int, str]]:
    """An awareness update's ``(client_id, clock, state_json)`` entries, framing checked."""
    reader = Reader(payload)
    entries = []
    for _ in range(reader.varuint()):
        client_id, clock = reader.varuint(), reader.varuint()
        entries.append((client_id, clock, reader.var_string()))  # the JSON is decoded by pycrdt's Awareness
    if not reader.done:
        raise ProtocolError("trailing bytes after the awareness update")
    return entries


def _frame(*parts: int, payload: bytes) -> bytes:
    encoder = Encoder()
    for part in parts:
        encoder.write_var_uint(part)
    encoder.write_var_uint(len(payload))
    return encoder.to_bytes() + payload


def sync_step1(state_vector: bytes) -> bytes:
    return _frame(MSG_SYNC, SYNC_STEP1, payload=state_vector)


def sync_step2(update: bytes) -> bytes:
    return _frame(MSG_SYNC, SYNC_STEP2, payload=update)


def sync_update(update: bytes) -> bytes:
    return _frame(MSG_SYNC, SYNC_UPDATE, payload=update)


def awareness(payload: bytes) -> bytes:
    return _frame(MSG_AWARENESS, payload=payload)


def encode_awareness_states(entries: list[tuple[int, int, str]]) -> bytes:
    """An awareness update payload from ``(client_id, clock, state_json)`` entries (``"null"`` removes)."""
    encoder = Encoder()
    encoder.write_var_uint(len(entries))
    for client_id, clock, state_json in entries:
        encoder.write_var_uint(client_id)
        encoder.write_var_uint(clock)
        encoder.write_var_string(state_json)
    return encoder.to_bytes()
