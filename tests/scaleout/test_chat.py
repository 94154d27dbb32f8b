"""Chat across instances: real ``python app.py`` processes sharing the local PostgreSQL and Redis
(tests/support/cluster.py). Messages, presence and typing cross instances; SIGKILL of one instance under load
loses no acknowledged message, its clients resume on the other with ``since_seq``, and its singleton
jobs move."""
from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import redis
import requests

from tests.support.chat_load import Sender, assert_stored_exactly_once, holder_of
from tests.support.cluster import REDIS_URL, cluster, require_cluster_services
from tests.support.harness import ServerProcess, register
from tests.support.chat_helpers import Api, ChatClient, new_room
from tests.support.waiting import wait_for

require_cluster_services()

LIMITS = {"CONFAB_CHAT_SEND_RATE": "100000", "CONFAB_RATE_LIMIT_AUTH_BURST": "1000",
          "CONFAB_RATE_LIMIT_USER_BURST": "10000", "CONFAB_RATE_LIMIT_IP_BURST": "10000"}


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    with cluster(tmp_path_factory.mktemp("scaleout"), size=2, **LIMITS) as started:
        yield started


@pytest.fixture
def pair(running):
    return running.instances[:2]


def members(a: ServerProcess, b: ServerProcess, rooms: int = 1) -> tuple[list[str], dict, dict]:
    """A user registered on ``a`` who creates ``rooms`` public rooms, and one on ``b`` who joins them."""
    login_a, login_b = register(a.base), register(b.base)
    room_ids = [new_room(Api(a.base, login_a), name=f"r{i}") for i in range(rooms)]
    for room in room_ids:
        assert Api(b.base, login_b).post(f"/rooms/{room}/join").status_code == 200
    return room_ids, login_a, login_b


def online_ids(instance: ServerProcess, login: dict) -> set[str]:
    response = Api(instance.base, login).get("/users/online", params={"limit": 200})
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


def status_of(client: ChatClient, user_id: str, status: str, timeout: float = 5.0) -> dict[str, Any]:
    return client.wait_for(lambda f: f["type"] == "user_status" and f["user_id"] == user_id
                           and f["status"] == status, timeout)


def test_messages_sent_through_either_instance_reach_the_other_in_seq_order(pair):
    a, b = pair
    rooms, login_a, login_b = members(a, b, rooms=3)
    on_a, on_b = ChatClient(a.ws_base, login_a), ChatClient(b.ws_base, login_b)
    for room in rooms:
        on_a.join(room)
        on_b.join(room)
    refs = {}
    for i in range(40):
        for room in rooms:
            sender = on_a if i % 4 else on_b
            refs[sender.send({"type": "send_message", "room_id": room, "content": f"m{i}",
                              "client_msg_id": f"{room}-{i}"})] = sender
    acked = {}
    for ref, sender in refs.items():
        reply = sender.wait_for(lambda f, r=ref: f.get("ref") == r, timeout=15)
        assert reply["type"] == "ack", reply
        acked[reply["message"]["id"]] = reply["message"]["seq"]
    for client in (on_a, on_b):
        seen = {room: [] for room in rooms}
        while sum(map(len, seen.values())) < len(acked):
            frame = client.wait_for(lambda f: f["type"] == "new_message", timeout=10)
            seen[frame["message"]["room_id"]].append(frame["message"])
        for room in rooms:
            assert [m["seq"] for m in seen[room]] == list(range(1, 41))
            assert all(acked[m["id"]] == m["seq"] for m in seen[room])
    on_a.close()
    on_b.close()


def test_presence_and_typing_cross_instances(pair):
    a, b = pair
    (room,), login_a, login_b = members(a, b)
    watcher = ChatClient(b.ws_base, login_b)
    watcher.join(room)
    walker = ChatClient(a.ws_base, login_a)
    walker_id = login_a["user"]["id"]
    assert status_of(watcher, walker_id, "online")["username"] == login_a["user"]["username"]
    assert walker_id in online_ids(b, login_b)
    walker.join(room)
    walker.send({"type": "typing", "room_id": room, "is_typing": True})
    typing = watcher.of_type("user_typing")
    assert (typing["user"]["id"], typing["is_typing"]) == (walker_id, True)
    walker.send({"type": "typing", "room_id": room, "is_typing": False})
    assert watcher.of_type("user_typing")["is_typing"] is False
    assert not [f for f in walker.drain() if f["type"] == "user_typing"]  # not echoed to the typist
    walker.close()
    assert status_of(watcher, walker_id, "offline")["last_seen"]
    assert walker_id not in online_ids(b, login_b)
    watcher.close()


def test_a_stopped_instance_removes_its_groups_and_presence(running):
    extra = running.start()
    login = register(extra.base)
    socket = ChatClient(extra.ws_base, login)
    instance_id = requests.get(f"{extra.base}/health", timeout=2).json()["components"]["cluster"]["instance_id"]
    client = redis.Redis.from_url(REDIS_URL)
    streams = [f"{running.prefix}:stream:{topic}:0" for topic in ("chat.events", "chat.replies", "presence")]

    def groups_of_extra() -> list[str]:
        return [g["name"].decode() for stream in streams for g in client.xinfo_groups(stream)
                if g["name"].decode().endswith(instance_id)]

    assert len(groups_of_extra()) == 3
    assert client.sismember(f"{running.prefix}:online:{instance_id}", login["user"]["id"])
    extra.process.terminate()  # SIGTERM: a graceful stop
    assert extra.process.wait(20) == 0
    assert groups_of_extra() == []
    assert not client.exists(f"{running.prefix}:online:{instance_id}")
    socket.close()


def test_sigkill_of_one_instance_under_load_loses_nothing_acknowledged(tmp_path):
    with cluster(tmp_path, size=2, **LIMITS) as running:
        first, second = running.instances
        doomed = wait_for(lambda: holder_of("broker.retention", running.instances), timeout=10)
        survivor = second if doomed is first else first
        logins = [register(first.base) for _ in range(4)]
        owner = Api(first.base, logins[0])
        rooms = [new_room(owner, name="load-a"), new_room(owner, name="load-b")]
        for login in logins[1:]:
            for room in rooms:
                assert Api(first.base, login).post(f"/rooms/{room}/join").status_code == 200
        idle_login = register(doomed.base)
        for room in rooms:
            assert Api(doomed.base, idle_login).post(f"/rooms/{room}/join").status_code == 200
        watcher = ChatClient(survivor.ws_base, logins[0])
        watcher.join(rooms[0])
        idle = ChatClient(doomed.ws_base, idle_login)  # stays on the doomed instance: goes offline with it
        status_of(watcher, idle.user_id, "online")
        stop = threading.Event()
        senders = [Sender(doomed if i % 2 else survivor, survivor, login, rooms, stop)
                   for i, login in enumerate(logins)]
        for sender in senders:
            sender.start()
        wait_for(lambda: all(len(s.acked) >= 10 for s in senders), timeout=20)
        doomed.process.kill()
        killed_at = time.monotonic()
        wait_for(lambda: holder_of("broker.retention", [survivor]), timeout=15)
        moved_after = time.monotonic() - killed_at
        acked_at_kill = sum(len(s.acked) for s in senders)
        wait_for(lambda: sum(len(s.acked) for s in senders) >= acked_at_kill + 40, timeout=30)
        stop.set()
        for sender in senders:
            sender.join(40)
            assert sender.error is None, repr(sender.error)
        assert all(s.reconnects == 1 for s in senders if s.instance is doomed)
        last = assert_stored_exactly_once(survivor, logins[0], rooms, senders)
        for sender in senders:
            sender.catch_up(last)  # nothing missed, live or replayed
        offline = status_of(watcher, idle.user_id, "offline", timeout=20)
        assert offline["user_id"] not in online_ids(survivor, logins[0])
        assert moved_after < 15
        print(f"\nsingleton moved after {moved_after:.1f}s; acked {sum(len(s.acked) for s in senders)}; "
              f"retries {sum(s.retries for s in senders)}")
