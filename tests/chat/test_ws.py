"""Chat over real sockets: ordered delivery, dedup, edits/deletes/reactions, access, typing, presence."""
import time
import uuid

import pytest

from tests.support.harness import POSTGRES_CHAT
from tests.support.chat_helpers import ChatClient, connected, new_room, room_with_two_members, user


SERVER_CONFIG = {"chat": {"typing_ttl_s": "0.3"}}
POSTGRESQL_CONFIG = POSTGRES_CHAT


def messages_in(frames):
    return [f["message"] for f in frames if f["type"] == "new_message"]


@pytest.mark.engines("sqlite", "postgresql")
def test_every_member_receives_every_message_in_seq_order(server):
    (a_login, a_api), (b_login, _), (c_login, _) = user(server), user(server), user(server)
    room = new_room(a_api)
    a, b, c = (ChatClient(server.ws_base, login) for login in (a_login, b_login, c_login))
    for client in (a, b, c):
        client.join(room)
    acked = []
    for i in range(15):
        sender = (a, b, c)[i % 3]
        acked.append(sender.say(room, f"hello {i}"))
    assert [m["seq"] for m in acked] == list(range(1, 16))
    for client in (a, b, c):
        received = [client.of_type("new_message")["message"] for _ in range(15)]
        assert [m["seq"] for m in received] == list(range(1, 16))
        assert [m["content"] for m in received] == [f"hello {i}" for i in range(15)]
        client.close()
    message = acked[0]
    assert message["user"]["id"] == a_login["user"]["id"] and message["room_id"] == room
    assert message["reactions"] == {} and message["is_edited"] is False and message["attachments"] == []


@pytest.mark.engines("sqlite", "postgresql")
def test_the_same_client_msg_id_returns_the_same_message_never_a_duplicate(server):
    room, (a_login, a_api), (b_login, b_api) = room_with_two_members(server)
    a, b = connected(server, room, a_login, b_login)
    first = a.say(room, "once", client_msg_id="cmid-1")
    again = a.say(room, "once", client_msg_id="cmid-1")
    both = [a.send({"type": "send_message", "room_id": room, "content": "x", "client_msg_id": "cmid-2"})
            for _ in range(2)]
    acks = [a.wait_for(lambda f, r=ref: f.get("ref") == r) for ref in both]
    assert first["id"] == again["id"] and first["seq"] == again["seq"] == 1
    assert acks[0]["message"]["id"] == acks[1]["message"]["id"] and acks[0]["message"]["seq"] == 2
    # the other client id from another user is not a duplicate of a's
    assert b.say(room, "mine", client_msg_id="cmid-1")["seq"] == 3
    assert [m["seq"] for m in messages_in(b.drain())] == [1, 2, 3]
    assert [m["seq"] for m in a_api.get(f"/rooms/{room}/messages").json()["items"]] == [1, 2, 3]


@pytest.mark.engines("sqlite", "postgresql")
def test_edit_delete_and_reactions_reach_every_member(server):
    room, (a_login, a_api), (b_login, b_api) = room_with_two_members(server)
    a, b = connected(server, room, a_login, b_login)
    message = b.say(room, "typo")
    edited = b.request({"type": "edit_message", "message_id": message["id"], "new_content": "fixed"})
    assert edited["type"] == "ack" and edited["message"]["content"] == "fixed" and edited["message"]["is_edited"]
    event = a.of_type("message_edited")
    assert event["message_id"] == message["id"] and event["new_content"] == "fixed" and event["room_id"] == room
    denied = a.request({"type": "edit_message", "message_id": message["id"], "new_content": "mine now"})
    assert denied["type"] == "error" and denied["error"]["code"] == "FORBIDDEN"

    assert a.request({"type": "add_reaction", "message_id": message["id"], "emoji": "👍"})["type"] == "ack"
    added = b.of_type("reaction_added")
    assert added == {"type": "reaction_added", "room_id": room, "message_id": message["id"],
                     "user_id": a.user_id, "emoji": "👍"}
    assert a_api.get(f"/messages/{message['id']}").json()["reactions"] == {"👍": [a.user_id]}
    assert a.request({"type": "remove_reaction", "message_id": message["id"], "emoji": "👍"})["type"] == "ack"
    assert b.of_type("reaction_removed")["emoji"] == "👍"

    # the room admin (a, creator) may delete b's message
    deleted = a.request({"type": "delete_message", "message_id": message["id"]})
    assert deleted["message"]["is_deleted"] is True
    event = b.of_type("message_deleted")
    assert event["message_id"] == message["id"]
    stored = a_api.get(f"/messages/{message['id']}").json()
    assert stored["is_deleted"] is True and stored["content"] == ""
    a.close()
    b.close()


def test_a_non_member_can_neither_read_nor_send(server):
    (owner_login, owner_api), (out_login, out_api) = user(server), user(server)
    private = new_room(owner_api, private=True)
    public = new_room(owner_api)
    outsider = ChatClient(server.ws_base, out_login)
    reply = outsider.request({"type": "join_room", "room_id": private})
    assert reply["type"] == "error" and reply["error"]["code"] == "NOT_FOUND"
    reply = outsider.request({"type": "send_message", "room_id": private, "content": "hi", "client_msg_id": "1"})
    assert reply["error"]["code"] == "NOT_FOUND"
    reply = outsider.request({"type": "send_message", "room_id": public, "content": "hi", "client_msg_id": "1"})
    assert reply["error"]["code"] == "FORBIDDEN"
    assert out_api.get(f"/rooms/{private}/messages").status_code == 404
    assert out_api.get(f"/rooms/{private}").status_code == 404
    assert out_api.get(f"/rooms/{public}/messages").status_code == 403
    assert owner_api.get(f"/rooms/{public}/messages").json()["items"] == []
    assert outsider.request({"type": "ping"})["type"] == "pong"
    outsider.close()


def test_bad_chat_frames_get_errors_and_the_socket_stays_open(server):
    login, api = user(server)
    room = new_room(api)
    client = ChatClient(server.ws_base, login)
    for frame in [{"type": "send_message", "room_id": room},
                  {"type": "send_message", "room_id": room, "content": "x" * 5000, "client_msg_id": "c"},
                  {"type": "join_room", "room_id": room, "since_seq": "zero"},
                  {"type": "typing", "room_id": room, "is_typing": "yes"},
                  {"type": "read", "room_id": room, "seq": -1},
                  {"type": "edit_message", "message_id": str(uuid.uuid4()), "new_content": "x"}]:
        reply = client.request(frame)
        assert reply["type"] == "error" and reply["error"]["code"] in ("BAD_REQUEST", "NOT_FOUND"), frame
    assert client.request({"type": "ping"})["type"] == "pong"
    client.close()


def test_typing_is_told_to_others_and_expires_without_a_refresh(server):
    room, (a_login, a_api), (b_login, b_api) = room_with_two_members(server)
    a, b = connected(server, room, a_login, b_login)
    a.send({"type": "typing", "room_id": room, "is_typing": True})
    started = b.of_type("user_typing")
    assert started["is_typing"] is True and started["user"]["id"] == a.user_id and started["room_id"] == room
    stopped = b.of_type("user_typing", timeout=3)  # nobody sends is_typing false: the server expires it
    assert stopped["is_typing"] is False and stopped["user"]["id"] == a.user_id
    assert not [f for f in a.drain() if f["type"] == "user_typing"]  # not echoed to the typist
    a.close()
    b.close()


def test_presence_goes_offline_only_after_the_last_socket(server):
    room, (a_login, a_api), (b_login, b_api) = room_with_two_members(server)
    watcher = ChatClient(server.ws_base, a_login)
    watcher.join(room)
    first = ChatClient(server.ws_base, b_login)
    online = watcher.of_type("user_status")
    assert online["user_id"] == b_login["user"]["id"] and online["status"] == "online"
    second = ChatClient(server.ws_base, b_login)
    assert b_login["user"]["id"] in [u["id"] for u in a_api.get("/users/online").json()["items"]]
    first.close()
    second.request({"type": "ping"})
    assert not [f for f in watcher.drain() if f["type"] == "user_status"]  # one socket left: still online
    second.close()
    offline = watcher.of_type("user_status")
    assert offline["status"] == "offline" and offline["last_seen"]
    assert b_login["user"]["id"] not in [u["id"] for u in a_api.get("/users/online").json()["items"]]
    deadline = time.monotonic() + 3  # last_seen is stored in a batch shortly after
    while a_api.get(f"/users/{b_login['user']['id']}").json()["last_seen"] is None:
        assert time.monotonic() < deadline, "last_seen never stored"
        time.sleep(0.05)
    watcher.close()


def test_joins_are_announced_and_leave_room_stops_live_delivery_to_that_socket(server):
    (a_login, a_api), (b_login, b_api) = user(server), user(server)
    room = new_room(a_api)
    a = ChatClient(server.ws_base, a_login)
    a.join(room)
    b = ChatClient(server.ws_base, b_login)
    b.join(room)  # joining a public room over /ws makes b a member
    joined = a.of_type("user_joined")
    assert joined["room_id"] == room and joined["user"]["id"] == b.user_id and "ref" not in joined
    assert b_api.get(f"/rooms/{room}").json()["role"] == "member"
    a.say(room, "one")
    assert b.of_type("new_message")["message"]["content"] == "one"
    assert b.request({"type": "leave_room", "room_id": room})["type"] == "user_left"
    refused = b.request({"type": "typing", "room_id": room, "is_typing": True})
    assert refused["error"]["code"] == "FORBIDDEN"  # typing needs the room joined on this socket
    a.say(room, "two")
    assert not messages_in(b.drain())
    assert b.say(room, "still a member")["seq"] == 3  # leave_room leaves the stream, not the room
    a.close()
    b.close()


def test_a_new_member_who_is_online_is_announced_to_the_room(server):
    """Status changes reach the rooms a user shares; joining one more must not leave its members
    thinking the newcomer is offline."""
    (a_login, a_api), (b_login, b_api) = user(server), user(server)
    room = new_room(a_api)
    a = ChatClient(server.ws_base, a_login)
    a.join(room)
    b = ChatClient(server.ws_base, b_login)  # online before sharing any room with a
    b.request({"type": "ping"})
    assert b_api.post(f"/rooms/{room}/join").status_code == 200
    assert a.of_type("user_joined")["user"]["id"] == b.user_id
    status = a.of_type("user_status")
    assert status["user_id"] == b.user_id and status["status"] == "online"
    assert not [f for f in b.drain() if f["type"] == "user_status"]  # not told about themselves
    a.close()
    b.close()


def test_an_invited_user_hears_of_the_room_on_every_socket_at_once(server):
    (a_login, a_api), (b_login, b_api) = user(server), user(server)
    room = new_room(a_api, private=True, name="secret")
    a = ChatClient(server.ws_base, a_login)
    a.join(room)
    b_sockets = [ChatClient(server.ws_base, b_login) for _ in range(2)]  # joined nothing yet
    for socket in b_sockets:
        socket.request({"type": "ping"})
    assert a_api.post(f"/rooms/{room}/members", json={"username": b_login["user"]["username"]}).status_code == 201
    for socket in b_sockets:
        told = socket.of_type("user_joined")
        assert told["room_id"] == room and told["user"]["id"] == b_login["user"]["id"]
    assert a.of_type("user_joined")["user"]["id"] == b_login["user"]["id"]  # the room hears of it too
    assert not [f for f in a.drain() if f["type"] == "user_joined"]  # once
    for client in (a, *b_sockets):
        client.close()
