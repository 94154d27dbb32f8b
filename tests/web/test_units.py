"""Pure pieces without sockets: token buckets and the /ws frame parser."""
import pytest

from domain import chat_frames, ws_protocol
from domain.ratelimit import RateLimiter

SCHEMAS = {"ping": ws_protocol.PingFrame(), **chat_frames.SCHEMAS}  # what a session passes in


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_token_bucket_allows_burst_then_reports_wait_then_refills():
    clock = Clock()
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)
    assert [limiter.check("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.check("a") == pytest.approx(0.5)
    assert limiter.check("b") == 0  # buckets are per key
    clock.now = 0.5
    assert limiter.check("a") == 0


def test_rate_limiter_memory_is_bounded():
    limiter = RateLimiter(rate=1, burst=1, max_keys=10, clock=Clock())
    for i in range(100):
        limiter.check(str(i))
    assert len(limiter._buckets) == 10


@pytest.mark.parametrize("text, message, ref", [
    ("{not json", "frame is not valid JSON", None),
    ("[1,2]", "frame must be a JSON object", None),
    ('{"ref": "r1"}', "invalid frame", "r1"),
    ('{"type": "launch_rockets", "ref": 7}', "unknown frame type 'launch_rockets'", "7"),
    (b"\x00\x01", "binary frames are not accepted on /ws; send JSON text", None),
])
def test_bad_frames_become_bad_request_with_the_ref(text, message, ref):
    with pytest.raises(ws_protocol.FrameError) as info:
        ws_protocol.parse_frame(text, SCHEMAS)
    assert info.value.error.code == "BAD_REQUEST"
    assert info.value.error.message == message
    assert info.value.ref == ref


def test_ping_parses_and_replies_carry_the_ref():
    frame = ws_protocol.parse_frame('{"type": "ping", "ref": "abc"}', SCHEMAS)
    assert (frame.type, frame.ref) == ("ping", "abc")
    assert ws_protocol.encode(ws_protocol.reply("pong", frame.ref)) == b'{"type":"pong","ref":"abc"}'


def test_deeply_nested_json_is_an_error_not_a_crash():
    with pytest.raises(ws_protocol.FrameError):
        ws_protocol.parse_frame("[" * 100_000 + "]" * 100_000, SCHEMAS)


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000])
def test_wire_frames_decode_as_the_same_text_in_a_standard_client(size):
    from wsproto import ConnectionType
    from wsproto.connection import Connection
    from wsproto.events import TextMessage

    text = ("ü" * size)[:size]
    client = Connection(ConnectionType.CLIENT)
    frame = ws_protocol.WireFrame(text.encode())
    client.receive_data(frame.wire + frame.wire)  # the same bytes serve twice: shared by every member
    received = "".join(e.data for e in client.events() if isinstance(e, TextMessage))
    assert received == text + text


def test_a_lone_surrogate_is_refused_naming_its_field_and_keeping_a_sound_ref():
    with pytest.raises(ws_protocol.FrameError) as refused:
        ws_protocol.parse_frame('{"type":"send_message","ref":"r1","room_id":"x","content":"a\\ud800b",'
                                '"client_msg_id":"c"}', SCHEMAS)
    assert refused.value.ref == "r1" and refused.value.error.code == "BAD_REQUEST"
    assert list(refused.value.error.details["fields"]) == ["content"]
    with pytest.raises(ws_protocol.FrameError) as in_ref:  # the ref itself is not sound: no ref in the answer
        ws_protocol.parse_frame('{"type":"ping","ref":"\\udfff"}', SCHEMAS)
    assert in_ref.value.ref is None and list(in_ref.value.error.details["fields"]) == ["ref"]
    assert ws_protocol.encode({"echo": "\ud800"}) == b'{"echo":"\\ud800"}'  # every reply still encodes
