"""WS /ws over real sockets: authentication, ping/pong, bad frames answered without closing, limits."""
import json
import time

import pytest
import requests
import websocket

from actors.gateway import UserSessions
from tests.support.harness import bearer, close_code, connect_ws, register, running_server, ws_request
from tests.support.waiting import wait_for


SERVER_CONFIG = {"server": {"ws_max_message_bytes": "2048"}}


@pytest.fixture
def user(server):
    return register(server.base)


def test_ping_gets_pong_with_the_same_ref(server, user):
    ws = connect_ws(f"{server.ws_base}/ws", user["access_token"])
    assert ws_request(ws, {"type": "ping", "ref": "r-1"}) == {"type": "pong", "ref": "r-1"}
    ws.close()


def test_browser_style_query_token_is_accepted(server, user):
    ws = connect_ws(f"{server.ws_base}/ws?token={user['access_token']}")
    assert ws_request(ws, {"type": "ping"}) == {"type": "pong"}
    ws.close()


@pytest.mark.parametrize("token", [None, "not-a-jwt", "cfk_unknown"])
def test_upgrade_without_a_valid_token_closes_with_1008(server, token):
    ws = connect_ws(f"{server.ws_base}/ws", token)
    assert close_code(ws) == 1008


def test_bad_frames_get_error_frames_and_the_socket_stays_open(server, user):
    ws = connect_ws(f"{server.ws_base}/ws", user["access_token"])
    for raw in ["{oops", "[]", json.dumps({"type": "warp", "ref": "x"}), json.dumps({"no": "type"})]:
        ws.send(raw)
        reply = json.loads(ws.recv())
        assert reply["type"] == "error" and reply["error"]["code"] == "BAD_REQUEST", raw
    ws.send_binary(b"\x00\xff")
    assert json.loads(ws.recv())["error"]["code"] == "BAD_REQUEST"
    assert ws_request(ws, {"type": "ping", "ref": "alive"}) == {"type": "pong", "ref": "alive"}
    ws.close()


def test_frame_over_the_size_limit_closes_with_1009(server, user):
    ws = connect_ws(f"{server.ws_base}/ws", user["access_token"])
    ws.send(json.dumps({"type": "ping", "pad": "x" * 4096}))
    assert close_code(ws) == 1009


def test_revoking_an_api_key_closes_its_sockets_with_1008(server, user):
    created = requests.post(f"{server.base}/api/v1/api-keys", json={"name": "bot"},
                            headers=bearer(user["access_token"])).json()
    bot = connect_ws(f"{server.ws_base}/ws", created["key"])
    human = connect_ws(f"{server.ws_base}/ws", user["access_token"])
    assert ws_request(bot, {"type": "ping"}) == {"type": "pong"}
    requests.delete(f"{server.base}/api/v1/api-keys/{created['id']}", headers=bearer(user["access_token"]))
    assert close_code(bot) == 1008
    assert ws_request(human, {"type": "ping"}) == {"type": "pong"}  # the user's own session is untouched
    human.close()


def test_an_expired_access_token_closes_the_socket_with_1008(tmp_path):
    with running_server(tmp_path, auth={"access_token_ttl_s": "10"}) as short:
        token = register(short.base)["access_token"]
        ws = connect_ws(f"{short.ws_base}/ws", token)
        assert ws_request(ws, {"type": "ping"}) == {"type": "pong"}
        started = time.monotonic()
        assert close_code(ws, timeout=15) == 1008
        assert 5 < time.monotonic() - started < 15


def test_sessions_are_counted_and_released(server, user):
    stats = lambda: requests.get(f"{server.base}/health").json()["components"]["gateway"]["sessions"]  # noqa: E731
    before = stats()
    sockets = [connect_ws(f"{server.ws_base}/ws", user["access_token"]) for _ in range(3)]
    for ws in sockets:
        ws_request(ws, {"type": "ping"})
    wait_for(lambda: stats() == before + 3)
    for ws in sockets:
        ws.close()
    wait_for(lambda: stats() == before)


def test_slow_reader_receives_every_frame_whole(server, user):
    """Fill a non-reading client's socket buffer; every frame must still arrive complete and in order."""
    import socket as socketlib
    ws = websocket.WebSocket(sockopt=[(socketlib.SOL_SOCKET, socketlib.SO_RCVBUF, 4096)])
    ws.connect(f"{server.ws_base}/ws", header=[f"Authorization: Bearer {user['access_token']}"], timeout=20)
    ws_request(ws, {"type": "ping"})
    (session,) = server.confab.services.gateway.ask(UserSessions(user["user"]["id"]))
    payload = "y" * 60_000
    frames = 150
    for i in range(frames):  # pushed in one go (one tick): more than the outbox limit, but no overflow
        assert session.send({"type": "bulk", "i": i, "data": payload})
    time.sleep(1.0)  # the server is now blocked on a full socket buffer
    for i in range(frames):
        frame = json.loads(ws.recv())
        assert frame["i"] == i and frame["data"] == payload
    assert ws_request(ws, {"type": "ping", "ref": "after"}) == {"type": "pong", "ref": "after"}
    ws.close()


def test_a_peer_that_stops_answering_pings_is_dropped(tmp_path):
    """A client that never answers pings (a dead peer) is closed with 1008 and its session released."""
    with running_server(tmp_path, server={"ws_ping_interval_s": "0.3"}) as fast:
        token = register(fast.base)["access_token"]
        ws = connect_ws(f"{fast.ws_base}/ws", token)
        assert ws_request(ws, {"type": "ping"}) == {"type": "pong"}
        sessions = lambda: requests.get(f"{fast.base}/health").json()["components"]["gateway"]["sessions"]  # noqa: E731
        wait_for(lambda: sessions() == 1)
        deadline = time.monotonic() + 5  # read nothing, so no ping is ever answered
        while sessions() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sessions() == 0
        raw = b""
        ws.sock.settimeout(2)
        while chunk := ws.sock.recv(4096):
            raw += chunk
        assert raw.startswith(b"\x89\x00")  # pings went unanswered...
        assert b"\x88" in raw and raw[raw.index(b"\x88") + 2:][:2] == (1008).to_bytes(2, "big")  # ...then 1008


def test_permessage_deflate_is_declined_unless_configured(server, user, tmp_path):
    offer = "permessage-deflate; client_max_window_bits"
    ws = websocket.create_connection(f"{server.ws_base}/ws", header=[f"Authorization: Bearer {user['access_token']}",
                                                                      f"Sec-WebSocket-Extensions: {offer}"])
    assert "sec-websocket-extensions" not in {k.lower() for k in ws.getheaders()}
    ws.close()
    with running_server(tmp_path, server={"ws_compression": "true"}) as compressing:
        token = register(compressing.base)["access_token"]
        ws = websocket.create_connection(f"{compressing.ws_base}/ws",
                                         header=[f"Authorization: Bearer {token}", f"Sec-WebSocket-Extensions: {offer}"])
        assert "permessage-deflate" in ws.getheaders().get("sec-websocket-extensions", "")
        ws.close()


def test_each_websocket_costs_one_file_descriptor(tmp_path):
    import os

    import psutil

    def _link(fd: str) -> str:
        try:
            return os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return ""

    with running_server(tmp_path, server={"ws_max_sockets_per_user": "0"}) as fresh:
        token = register(fresh.base)["access_token"]
        sockets = [connect_ws(f"{fresh.ws_base}/ws", token) for _ in range(40)]
        for ws in sockets:
            assert ws_request(ws, {"type": "ping"}) == {"type": "pong"}
        server_ends = {os.readlink(f"/proc/self/fd/{c.fd}")
                       for c in psutil.Process().net_connections(kind="tcp")
                       if c.laddr and c.laddr.port == fresh.port and c.status == psutil.CONN_ESTABLISHED}
        descriptors = [fd for fd in os.listdir("/proc/self/fd") if _link(fd) in server_ends]
        assert len(server_ends) == 40
        assert len(descriptors) == 40  # not 80: simple-websocket's duplicate is the only descriptor left
        for ws in sockets:
            ws.close()
