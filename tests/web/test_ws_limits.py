"""What one client may take from the server over /ws, on real sockets: a member that stops reading is
cut (4008) while the others keep receiving everything, and one user's sockets are capped (4429)."""
from __future__ import annotations

import socket
import time
import uuid
from typing import Any

import gevent
import pytest
import requests
import websocket

from tests.support.harness import Server, close_code, connect_ws, ws_request
from tests.support.chat_helpers import ChatClient, user, new_room

OUTBOX = 65_536


SERVER_CONFIG = {
    "server": {"ws_outbox_bytes": OUTBOX, "ws_max_sockets_per_user": 2},
    "chat": {"send_rate": 1000, "send_window_s": 1},
}


def sessions(server: Server) -> int:
    return requests.get(f"{server.base}/health").json()["components"]["gateway"]["sessions"]


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_member_who_stops_reading_is_cut_and_the_others_receive_everything(
        server: Server, caplog: pytest.LogCaptureFixture) -> None:
    (sender_login, api), (watcher_login, _), (stuck_login, _) = user(server), user(server), user(server)
    room = new_room(api)
    for login in (watcher_login, stuck_login):
        assert requests.post(f"{server.base}/api/v1/rooms/{room}/join",
                             headers={"Authorization": f"Bearer {login['access_token']}"}).status_code == 200
    sender, watcher = ChatClient(server.ws_base, sender_login), ChatClient(server.ws_base, watcher_login)
    stuck = websocket.WebSocket(sockopt=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)])
    stuck.connect(f"{server.ws_base}/ws", header=[f"Authorization: Bearer {stuck_login['access_token']}"])
    for client in (sender, watcher):
        client.join(room)
    assert ws_request(stuck, {"type": "join_room", "room_id": room})["type"] == "user_joined"
    wait_for(lambda: sessions(server) == 3)  # health follows the sessions at most every 0.25 s
    messages = 1500  # × 4 KB: more than the stuck socket's kernel buffers (up to 4 MB here) and its outbox

    acked: list[int] = []

    def acks() -> None:  # the sender reads while it sends (a client that does not read is cut too)
        for _ in range(messages):
            acked.append(sender.wait_for(lambda f: f["type"] in ("ack", "error"), timeout=30)["type"] == "ack")
            sender.backlog.clear()  # its own new_message frames

    reading = gevent.spawn(acks)
    watching = gevent.spawn(lambda: {watcher.of_type("new_message", timeout=30)["message"]["seq"]
                                     for _ in range(messages)})
    for i in range(messages):
        while i - len(acked) > 50:  # at most 50 in flight
            gevent.sleep(0.005)
        sender.send({"type": "send_message", "room_id": room, "content": f"{i:04d} " + "z" * 3990,
                     "client_msg_id": f"m{i}"})
    reading.get(timeout=60)
    assert acked == [True] * messages
    assert len(watching.get(timeout=60)) == messages
    wait_for(lambda: sessions(server) == 2)  # only the stuck one is gone
    (cut,) = [r for r in caplog.records if r.getMessage() == "ws.slow_consumer"]
    assert cut.fields["queued_bytes"] > OUTBOX and cut.fields["request_id"]
    stuck.settimeout(5)
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError, OSError)):
        while True:  # what the kernel buffered, then the end of the connection
            stuck.recv()
    assert sender.say(room, "still fine")["seq"] == messages + 1
    for client in (sender, watcher):
        client.close()


def test_one_user_holds_at_most_the_configured_sockets(server: Server) -> None:
    login, _api = user(server)
    first, second = (connect_ws(f"{server.ws_base}/ws", login["access_token"]) for _ in range(2))
    for ws in (first, second):
        assert ws_request(ws, {"type": "ping"}) == {"type": "pong"}
    third = connect_ws(f"{server.ws_base}/ws", login["access_token"])
    assert close_code(third) == 4429
    other = connect_ws(f"{server.ws_base}/ws", user(server)[0]["access_token"])  # another user is not affected
    assert ws_request(other, {"type": "ping"}) == {"type": "pong"}
    first.close()
    wait_for(lambda: sessions(server) <= 2)
    again = connect_ws(f"{server.ws_base}/ws", login["access_token"])
    assert ws_request(again, {"type": "ping", "ref": str(uuid.uuid4())})["type"] == "pong"
    for ws in (second, again, other):
        ws.close()
