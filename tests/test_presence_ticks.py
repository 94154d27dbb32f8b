"""Presence is announced once per tick over real sockets: a reconnect inside a tick is not news, and a
crowd coming online reaches each member as one frame per user."""
from __future__ import annotations

import time
from typing import Iterator

import pytest

from actors.chat.presence import ANNOUNCE_EVERY_S
from tests.harness import Server, running_server
from tests.test_chat_helpers import ChatClient, new_room, user


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("presence")) as srv:
        yield srv


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
