"""Pure chat pieces without sockets: the hub's join seam, the event codec, frame validation, typing."""
import gevent
import pytest

from actors.chat.hub import RoomHub
from actors.chat.presence import Typing
from domain import chat_frames, ws_protocol
from domain.chat_events import DROP_ROOM, Event, decode_command, decode_event, encode_command, encode_event


def collect(into):
    """A hub subscriber recording the text of each frame (broadcasts arrive as shared WireFrames)."""
    return lambda frame: into.append(frame.payload.decode())


def test_the_seam_holds_live_frames_during_replay_and_drops_what_was_replayed():
    hub, got = RoomHub(), []
    hub.subscribe("r", "s1", "u1", collect(got), buffering=True)
    hub.deliver("r", 5, b"m5")  # committed before the history read, delivered during the replay
    hub.deliver("r", 6, b"m6")  # committed after the read
    hub.deliver("r", None, b"typing")
    assert got == []
    hub.go_live("r", "s1", replayed_up_to=5)
    assert got == ["m6", "typing"]
    hub.deliver("r", 4, b"m4-late")  # still on its way although replayed: dropped
    hub.deliver("r", 7, b"m7")
    assert got == ["m6", "typing", "m7"]


def test_deliver_reaches_every_session_once_and_unsubscribes_stop_it():
    hub, a, b, c = RoomHub(), [], [], []
    hub.subscribe("r", "s1", "u1", collect(a), buffering=False)
    hub.subscribe("r", "s2", "u1", collect(b), buffering=False)
    hub.subscribe("r", "s3", "u2", collect(c), buffering=False)
    hub.subscribe("q", "s3", "u2", collect(c), buffering=False)
    assert hub.deliver("r", 1, b"x", skip_user="u2") == 2
    assert hub.deliver_to_rooms({"r", "q"}, b"status") == 3 and c == ["status"]
    hub.unsubscribe_user("r", "u1", farewell=b"bye")
    assert a == ["x", "status", "bye"] and hub.deliver("r", 2, b"y") == 1
    hub.drop_session("s3")
    assert hub.deliver("r", 3, b"z") == 0 and hub.deliver("q", None, b"z") == 0
    hub.subscribe("r", "s4", "u3", collect(a), buffering=False)
    hub.drop_room("r")
    assert not hub.is_subscribed("r", "s4")


def test_the_hub_drops_redelivered_seqs_and_reports_a_hole_before_a_seq():
    hub, got = RoomHub(), []
    assert hub.gap("r", 9) is None  # no session: nothing to fill
    hub.subscribe("r", "s1", "u1", collect(got), buffering=False)
    assert hub.deliver("r", 3, b"m3") == 1 and hub.gap("r", 4) is None
    assert hub.deliver("r", 3, b"m3-again") == 0 and got == ["m3"]  # at-least-once redelivery
    assert hub.gap("r", 6) == 3  # 4 and 5 never came: read them from storage first
    hub.drop_session("s1")
    hub.subscribe("r", "s2", "u1", collect(got), buffering=False)
    assert hub.gap("r", 9) is None  # a new subscriber starts from what comes next


def test_events_and_commands_round_trip_as_bytes():
    event = Event("room", 7, b'{"type":"new_message"}')
    assert decode_event(encode_event(event)) == event
    control = Event("room", None, None, DROP_ROOM)
    assert decode_event(encode_event(control)) == control
    command = {"op": "send", "cid": "c1", "content": "olá 👋"}
    assert decode_command(encode_command(command)) == command
    with pytest.raises(ValueError):
        decode_command(b'{"content": "no op"}')


@pytest.mark.parametrize("frame", [
    '{"type":"send_message","room_id":"r","content":"hi"}',
    '{"type":"send_message","room_id":"r","content":"","client_msg_id":"c"}',
    '{"type":"send_message","room_id":"r","content":"","client_msg_id":"c","attachments":[]}',
    '{"type":"send_message","room_id":"r","content":"x","client_msg_id":"c","attachments":"f"}',
    '{"type":"join_room","room_id":"r","since_seq":-1}',
    '{"type":"typing","room_id":"r","is_typing":1}',
    '{"type":"add_reaction","message_id":"m"}',
    '{"type":"read","room_id":"r","seq":"3"}',
])
def test_invalid_chat_frames_are_bad_requests_with_field_details(frame):
    with pytest.raises(ws_protocol.FrameError) as caught:
        ws_protocol.parse_frame(frame, chat_frames.SCHEMAS)
    assert caught.value.error.code == "BAD_REQUEST" and caught.value.error.details["fields"]


def test_a_valid_send_frame_gets_its_defaults():
    frame = ws_protocol.parse_frame(
        '{"type":"send_message","ref":"1","room_id":"r","content":"hi","client_msg_id":"c"}', chat_frames.SCHEMAS)
    assert frame.data == {"room_id": "r", "content": "hi", "client_msg_id": "c", "reply_to_id": None,
                          "attachments": []}


def test_typing_is_told_on_changes_only_and_expires():
    hub, got = RoomHub(), []
    hub.subscribe("r", "s1", "watcher", collect(got), buffering=False)
    typing = Typing(lambda event: hub.deliver(event.room_id, event.seq, event.frame, skip_user=event.user_id),
                    ttl_s=0.05)
    user = {"id": "u1", "username": "ana"}
    typing.update("r", user, True)
    typing.update("r", user, True)  # a refresh: nothing new to tell
    assert len(got) == 1 and '"is_typing":true' in got[0]
    gevent.sleep(0.15)
    assert len(got) == 2 and '"is_typing":false' in got[1]
    typing.update("r", user, False)  # already stopped: nothing
    assert len(got) == 2
