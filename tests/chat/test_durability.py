"""A ``kill -9`` of the server loses no acknowledged message, and resending after restart dedupes."""
import json

import websocket

from tests.support.harness import ServerProcess, register
from tests.support.chat_helpers import Api, ChatClient, new_room

ENV = {"CONFAB_CHAT_SEND_RATE": "10000", "CONFAB_CHAT_SEND_WINDOW_S": "1"}


def test_kill_9_loses_no_acknowledged_message(tmp_path):
    server = ServerProcess(tmp_path / "data", env=ENV)
    try:
        server.wait_ready()
        login = register(server.base)
        api = Api(server.base, login)
        room = new_room(api)
        client = ChatClient(server.ws_base, login)
        client.join(room)
        acked = {}
        for i in range(20):
            message = client.say(room, f"c{i}", client_msg_id=f"c{i}")
            acked[message["client_msg_id"]] = message
        for i in range(200):  # a burst in flight when the process dies
            client.ws.send(json.dumps({"type": "send_message", "room_id": room, "content": f"b{i}",
                                       "client_msg_id": f"b{i}", "ref": f"b{i}"}))
        while len(acked) < 60:
            frame = client.recv()
            if frame["type"] == "ack":
                acked[frame["message"]["client_msg_id"]] = frame["message"]
        server.process.kill()
        server.process.wait(10)
        try:  # acks already on the wire before the kill count too
            while True:
                frame = client.recv(timeout=1)
                if frame["type"] == "ack":
                    acked[frame["message"]["client_msg_id"]] = frame["message"]
        except (websocket.WebSocketException, OSError):
            pass
    finally:
        server.stop()

    again = ServerProcess(tmp_path / "data", env=ENV)
    try:
        again.wait_ready()
        api = Api(again.base, login)  # the signing secret is kept in the data dir: the token still works
        stored = []
        after = 0
        while True:
            page = api.get(f"/rooms/{room}/messages", params={"after_seq": after, "limit": 200}).json()["items"]
            stored += page
            if len(page) < 200:
                break
            after = page[-1]["seq"]
        by_cmid = {m["client_msg_id"]: m for m in stored}
        assert [m["seq"] for m in stored] == list(range(1, len(stored) + 1))  # gapless, no duplicate
        assert len(by_cmid) == len(stored)
        for cmid, message in acked.items():
            assert by_cmid[cmid]["id"] == message["id"] and by_cmid[cmid]["seq"] == message["seq"]
        # a client resending what it never saw acked gets each message exactly once
        client = ChatClient(again.ws_base, login)
        for i in range(200):
            message = client.say(room, f"b{i}", client_msg_id=f"b{i}")
            if f"b{i}" in by_cmid:
                assert message["id"] == by_cmid[f"b{i}"]["id"]
        client.close()
        total = api.get(f"/rooms/{room}/messages", params={"limit": 1}).json()["items"][0]["seq"]
        assert total == 220
    finally:
        again.stop()
