"""The protocol's text deltas (docs/protocol.md: code points) ↔ pycrdt ``Text`` operations (UTF-8 byte offsets).

pycrdt 0.14 positions are UTF-8 byte offsets and an out-of-range delete panics after partly
applying, so a delta is validated whole and converted to byte positions *before* the document is
touched. ``to_codepoint_delta`` turns pycrdt's byte-based event deltas back into protocol deltas.

A Y.Text may hold embedded objects (a Yjs client's images, mentions...): each takes one position in
Yjs. JSON clients see each as one U+FFFC (OBJECT REPLACEMENT CHARACTER) in the text, one code point,
so their positions agree with Yjs clients'; they cannot insert one themselves.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.errors import BadRequest

MAX_OPS = 10_000
EMBED = "\ufffc"  # an embedded object, as JSON clients see it: one position, as in Yjs
_EMBED_UTF8 = EMBED.encode()


def units(text: str) -> int:
    """How many Yjs positions (pycrdt: UTF-8 bytes; an embed: one) a span of the JSON text takes."""
    return len(text.encode("utf-8", "surrogatepass")) - (len(_EMBED_UTF8) - 1) * text.count(EMBED)


@dataclass(frozen=True)
class Insert:
    byte_pos: int
    text: str


@dataclass(frozen=True)
class Delete:
    byte_pos: int
    byte_len: int


ByteOp = Insert | Delete


def _refuse(message: str, index: int) -> BadRequest:
    return BadRequest(message, {"fields": {"ops": {str(index): [message]}}})


def to_byte_ops(current: str, ops: Any) -> list[ByteOp]:
    """Validate ``ops`` against ``current`` and return the equivalent byte-offset operations.

    Raises BadRequest (nothing applied) for a malformed op or one reaching past the end.
    """
    if not isinstance(ops, list) or not ops:
        raise BadRequest("ops must be a non-empty list", {"fields": {"ops": ["must be a non-empty list"]}})
    if len(ops) > MAX_OPS:
        raise BadRequest(f"at most {MAX_OPS} ops", {"fields": {"ops": [f"at most {MAX_OPS} ops"]}})
    out: list[ByteOp] = []
    cp = 0  # position in ``current`` (code points)
    byte_pos = 0  # position in the text being built (bytes)
    for index, op in enumerate(ops):
        if not isinstance(op, dict) or len(op) != 1:
            raise _refuse("each op is exactly one of retain, insert, delete", index)
        (kind, value), = op.items()
        if kind == "insert":
            if not isinstance(value, str) or not value:
                raise _refuse("insert must be a non-empty string", index)
            if EMBED in value:
                raise _refuse("U+FFFC stands for an embedded object and cannot be inserted as text", index)
            out.append(Insert(byte_pos, value))
            byte_pos += len(value.encode("utf-8", "surrogatepass"))
            continue
        if kind not in ("retain", "delete"):
            raise _refuse(f"unknown op {kind!r}", index)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise _refuse(f"{kind} must be a positive integer", index)
        if cp + value > len(current):
            raise _refuse(f"{kind} reaches past the end of the text ({len(current)} code points)", index)
        span = units(current[cp:cp + value])
        cp += value
        if kind == "retain":
            byte_pos += span
        else:
            out.append(Delete(byte_pos, span))
    for op in out:
        if isinstance(op, Insert) and not _valid_utf8(op.text):
            raise BadRequest("insert contains unpaired surrogates", {"fields": {"ops": ["invalid text"]}})
    return out


def _valid_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def apply_byte_ops(text: Any, ops: list[ByteOp]) -> None:
    """Apply validated ops to a pycrdt ``Text`` (call inside one transaction)."""
    for op in ops:
        if isinstance(op, Insert):
            text.insert(op.byte_pos, op.text)
        else:
            del text[op.byte_pos:op.byte_pos + op.byte_len]


def to_codepoint_delta(old: str, byte_delta: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """pycrdt's event delta (byte counts over ``old``, the JSON text) as a protocol delta (code points)."""
    raw = old.encode("utf-8").replace(_EMBED_UTF8, b"\xff")  # an embed: one unit, decoded as one character
    pos = 0
    out: list[dict[str, Any]] = []
    for op in byte_delta:
        if "insert" in op:
            value = op["insert"]
            out.append({"insert": value if isinstance(value, str) else EMBED})
            continue
        kind = "retain" if "retain" in op else "delete"
        count = int(op[kind])
        chars = len(raw[pos:pos + count].decode("utf-8", "replace"))
        pos += count
        out.append({kind: chars})
    return out


def diff_ops(old: str, new: str) -> list[dict[str, Any]]:
    """The delta turning ``old`` into ``new``: keep the common prefix and suffix, replace the middle."""
    prefix = 0
    limit = min(len(old), len(new))
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]:
        suffix += 1
    ops: list[dict[str, Any]] = []
    if prefix:
        ops.append({"retain": prefix})
    if len(old) - prefix - suffix:
        ops.append({"delete": len(old) - prefix - suffix})
    if len(new) - prefix - suffix:
        ops.append({"insert": new[prefix:len(new) - suffix]})
    return ops
