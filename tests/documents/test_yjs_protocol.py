"""Pure units: the y-websocket framing and the code-point ↔ byte delta conversion, without sockets."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycrdt import Doc, Text, create_sync_message, create_update_message

from domain import text_delta, yjs_sync
from domain.errors import BadRequest


def test_round_trip_matches_pycrdt_framing() -> None:
    doc = Doc()
    doc.get("content", type=Text).insert(0, "hi")
    update = doc.get_update()
    assert yjs_sync.sync_update(update) == create_update_message(update)
    assert yjs_sync.parse(create_update_message(update)) == yjs_sync.SyncUpdate(update)
    assert yjs_sync.parse(create_sync_message(doc)) == yjs_sync.SyncStep1(doc.get_state())
    assert yjs_sync.parse(yjs_sync.sync_step2(b"\x00\x00")) == yjs_sync.SyncStep2(b"\x00\x00")
    payload = yjs_sync.encode_awareness_states([(7, 1, '{"a":1}')])
    assert yjs_sync.parse(yjs_sync.awareness(payload)) == yjs_sync.AwarenessUpdate(payload)
    assert yjs_sync.validate_awareness(payload) == [7]
    assert yjs_sync.parse(b"\x03") == yjs_sync.QueryAwareness()


@pytest.mark.parametrize("data", [b"", b"\x80", b"\x00", b"\x00\x05\x01", b"\x00\x00\x05ab", b"\x09\x00",
                                  b"\x01\x03\x01\x01", b"\x01\x04\x01\x01\x01\xff", b"\xff" * 12])
def test_malformed_messages_are_protocol_errors(data: bytes) -> None:
    with pytest.raises(yjs_sync.ProtocolError):
        yjs_sync.parse(data)


def test_delta_counts_code_points_and_converts_to_bytes() -> None:
    doc = Doc()
    text = doc.get("content", type=Text)
    text.insert(0, "a😀b")
    ops = text_delta.to_byte_ops(str(text), [{"retain": 2}, {"insert": "é"}, {"delete": 1}])
    with doc.transaction():
        text_delta.apply_byte_ops(text, ops)
    assert str(text) == "a😀é"


@pytest.mark.parametrize("ops", [[{"retain": 4}], [{"delete": 4}], [{"retain": 2}, {"delete": 2}], [],
                                 [{"insert": ""}], [{"retain": 0}], [{"retain": True}], [{"bogus": 1}],
                                 [{"retain": 1, "insert": "x"}], "nope", [{"insert": "\ud800"}]])
def test_invalid_or_past_the_end_deltas_are_refused_whole(ops: object) -> None:
    with pytest.raises(BadRequest):
        text_delta.to_byte_ops("a😀b", ops)


def test_event_delta_back_to_code_points() -> None:
    doc = Doc()
    text = doc.get("content", type=Text)
    text.insert(0, "é😀xyz")
    seen = []
    text.observe(lambda event: seen.append(event.delta))
    old = str(text)
    with doc.transaction():
        del text[len("é".encode()):len("é😀".encode())]
        text.insert(len("éx".encode()), "!")
    assert text_delta.to_codepoint_delta(old, seen[-1]) == [{"retain": 1}, {"delete": 1}, {"retain": 1},
                                                            {"insert": "!"}]


_text = st.text(alphabet=st.sampled_from("ab é😀\n"), max_size=12)


@settings(max_examples=150, deadline=None)
@given(start=_text, data=st.data())
def test_random_deltas_apply_like_on_a_python_string(start: str, data: st.DataObject) -> None:
    ops, expected, cp = [], "", 0
    for _ in range(data.draw(st.integers(1, 5))):
        kind = data.draw(st.sampled_from(["retain", "delete", "insert"]))
        if kind == "insert":
            value = data.draw(_text.filter(bool))
            ops.append({"insert": value})
            expected += value
        elif cp < len(start):
            n = data.draw(st.integers(1, len(start) - cp))
            ops.append({kind: n})
            expected += start[cp:cp + n] if kind == "retain" else ""
            cp += n
    if not ops:
        return
    expected += start[cp:]
    doc = Doc()
    text = doc.get("content", type=Text)
    text.insert(0, start)
    with doc.transaction():
        text_delta.apply_byte_ops(text, text_delta.to_byte_ops(start, ops))
    assert str(text) == expected


@given(old=_text, new=_text)
def test_diff_ops_turn_old_into_new(old: str, new: str) -> None:
    ops = text_delta.diff_ops(old, new)
    if old == new:
        assert ops in ([], [{"retain": len(old)}])
        return
    doc = Doc()
    text = doc.get("content", type=Text)
    text.insert(0, old)
    with doc.transaction():
        text_delta.apply_byte_ops(text, text_delta.to_byte_ops(old, ops))
    assert str(text) == new
