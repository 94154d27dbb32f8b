"""Presence is announced once per tick over real sockets: a reconnect inside a tick is not news, and a
crowd coming online reaches each member as one frame per user."""
from __future__ import annotations

import time

from actors.chat.presence import ANNOUNCE_EVERY_S
from tests.support.harness import Server, connect_ws
from tests.support.chat_helpers import ChatClient, new_room, user


def statuses(client: ChatClient) -> list[tuple[str, str]]:
    return [(f["user_id"], f["status"]) for f in client.drain() if f["type"] == "user_status"]


def test_a_crowd_coming_online_reaches_a_member_once_per_user(server: Server) -> None:
    (owner_login, api) = user(server)
    room = new_room(api)
    watcher = ChatClient(server.ws_base, owner_login)
    watcher.join(room)
    crowd = [user(server) for _ in range(20)]
    for login, crowd_api in crowd:
        assert crowd_api.post(f"/rooms/{room}/join").status_code == 200
    statuses(watcher)  # the joins' own frames
    time.sleep(ANNOUNCE_EVERY_S * 2)
    clients = [ChatClient(server.ws_base, login) for login, _ in crowd]  # all at once
    time.sleep(ANNOUNCE_EVERY_S * 3)
    heard = statuses(watcher)
    assert sorted(heard) == sorted((login["user"]["id"], "online") for login, _ in crowd)
    for client in clients:
        client.close()
    watcher.close()


def test_a_reconnect_within_a_tick_is_not_announced(server: Server) -> None:
    (owner_login, api), (flaky_login, flaky_api) = user(server), user(server)
    room = new_room(api)
    assert flaky_api.post(f"/rooms/{room}/join").status_code == 200
    watcher = ChatClient(server.ws_base, owner_login)
    watcher.join(room)
    flaky = ChatClient(server.ws_base, flaky_login)
    time.sleep(ANNOUNCE_EVERY_S * 3)
    assert statuses(watcher) == [(flaky_login["user"]["id"], "online")]
    flaky.close()  # a dropped connection...
    flaky = ChatClient(server.ws_base, flaky_login)  # ...and the client is back at once
    time.sleep(ANNOUNCE_EVERY_S * 3)
    assert statuses(watcher) == []
    flaky.close()
    time.sleep(ANNOUNCE_EVERY_S * 3)
    assert statuses(watcher) == [(flaky_login["user"]["id"], "offline")]
    watcher.close()


def test_a_client_that_asks_for_batched_presence_gets_a_ticks_changes_in_one_frame(server: Server) -> None:
    (owner_login, api) = user(server)
    room = new_room(api)
    watcher = ChatClient(server.ws_base, owner_login)
    watcher.ws.close()
    watcher.ws = connect_ws(f"{server.ws_base}/ws?presence=batched", owner_login["access_token"])
    watcher.join(room)
    crowd = [user(server) for _ in range(15)]
    for _login, crowd_api in crowd:
        assert crowd_api.post(f"/rooms/{room}/join").status_code == 200
    watcher.drain()
    time.sleep(ANNOUNCE_EVERY_S * 2)
    clients = [ChatClient(server.ws_base, login) for login, _ in crowd]  # all within one or two ticks
    time.sleep(ANNOUNCE_EVERY_S * 3)
    frames = [f for f in watcher.drain() if f["type"] in ("user_status", "user_statuses")]
    assert frames and len(frames) <= 3  # one per tick, not one per user
    heard = [(u["user_id"], u["status"]) for f in frames for u in (f["users"] if f["type"] == "user_statuses" else [f])]
    assert sorted(heard) == sorted((login["user"]["id"], "online") for login, _ in crowd)
    clients[0].close()  # a single change stays a plain user_status
    time.sleep(ANNOUNCE_EVERY_S * 3)
    assert [(f["type"], f["status"]) for f in watcher.drain() if f["type"].startswith("user_status")] == \
        [("user_status", "offline")]
    for client in clients[1:]:
        client.close()
    watcher.close()
