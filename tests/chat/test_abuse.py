"""What one user can no longer do in chat, over real sockets (issue: abuse resistance): flood frames
that write or broadcast, replay a whole history with one frame, repeat read receipts to everyone,
or grow a message with reactions."""
from __future__ import annotations

from typing import Any

from tests.support.harness import Server, close_code, running_server
from tests.support.chat_helpers import ChatClient, new_room, user


SERVER_CONFIG = {"chat": {"send_rate": "1000", "replay_max": "5"}}


def test_every_frame_that_writes_or_broadcasts_shares_one_budget_per_user(tmp_path: Any) -> None:
    with running_server(tmp_path, server={"ws_frame_rate_per_s": "0.5", "ws_frame_burst": "4"},
                        chat={"rate_limit_close_after": "3"}) as small:
        login, api = user(small)
        room = new_room(api)
        first, second = ChatClient(small.ws_base, login), ChatClient(small.ws_base, login)
        first.join(room)  # a join costs one
        for is_typing in (True, False):
            first.send({"type": "typing", "room_id": room, "is_typing": is_typing})
        second.join(room)  # the budget is the user's, across sockets: this was the fourth
        refused = second.request({"type": "typing", "room_id": room, "is_typing": True})
        assert refused["type"] == "error" and refused["error"]["code"] == "RATE_LIMITED"
        assert refused["error"]["details"]["retry_after_s"] >= 1
        assert second.request({"type": "ping"})["type"] == "pong"  # free, and no relief either
        for _ in range(2):
            second.send({"type": "read", "room_id": room, "seq": 0})
        assert close_code(second.ws) == 4429  # three refusals in a row
        first.close()


def test_a_join_replays_only_the_newest_and_names_the_gap_to_page(server: Server) -> None:
    (login, api) = user(server)
    room = new_room(api)
    sender = ChatClient(server.ws_base, login)
    sender.join(room)
    for i in range(12):
        sender.say(room, f"m{i + 1}")
    late = ChatClient(server.ws_base, login)
    joined = late.join(room, since_seq=2)
    assert joined["gap"] == {"after_seq": 2, "before_seq": 8}
    replayed = [f["message"]["seq"] for f in late.drain() if f["type"] == "new_message"]
    assert replayed == [8, 9, 10, 11, 12]  # the five newest, then live
    paged = api.get(f"/rooms/{room}/messages", params={"before_seq": 8, "limit": 50}).json()["items"]
    assert [m["seq"] for m in paged if m["seq"] > 2] == [3, 4, 5, 6, 7]
    assert "gap" not in late.join(room, since_seq=9)
    sender.close()
    late.close()


def test_an_unchanged_read_receipt_is_acked_but_not_broadcast(server: Server) -> None:
    (login, api), (other_login, other_api) = user(server), user(server)
    room = new_room(api)
    assert other_api.post(f"/rooms/{room}/join").status_code == 200
    reader, watcher = ChatClient(server.ws_base, login), ChatClient(server.ws_base, other_login)
    reader.join(room)
    watcher.join(room)
    watcher.say(room, "hello")
    for _ in range(3):
        ack = reader.request({"type": "read", "room_id": room, "seq": 1})
        assert ack["type"] == "ack" and ack["seq"] == 1
    receipts = [f for f in watcher.drain() if f["type"] == "read_receipt"]
    assert [(r["user_id"], r["seq"]) for r in receipts] == [(login["user"]["id"], 1)]
    reader.close()
    watcher.close()


def test_a_message_carries_a_bounded_number_of_different_reactions(server: Server) -> None:
    (login, api) = user(server)
    room = new_room(api)
    client = ChatClient(server.ws_base, login)
    client.join(room)
    message = client.say(room, "react to me")
    for i in range(50):
        ack = client.request({"type": "add_reaction", "message_id": message["id"], "emoji": f"e{i}"})
        assert ack["type"] == "ack"
    refused = client.request({"type": "add_reaction", "message_id": message["id"], "emoji": "one-too-many"})
    assert refused["type"] == "error" and refused["error"]["code"] == "CONFLICT"
    again = client.request({"type": "remove_reaction", "message_id": message["id"], "emoji": "e0"})
    assert again["type"] == "ack"
    client.close()
