"""Redis restarts empty under load, with two instances: two real ``python app.py`` on PostgreSQL and a
``redis-server`` of the test's own (nothing kept on disk), killed and started again while two users send
through different instances. Afterwards the streams, consumer groups and leases exist again, every
partition and singleton job is held exactly once, presence is rebuilt, nothing acknowledged is lost or
duplicated, and a client that missed live events gets them back with ``since_seq`` from the database.
The time to recover is printed (``pytest -s``)."""
from __future__ import annotations

import threading
import time
import uuid

import pytest
import redis
import requests

from domain.errors import Unavailable
from tests.support.chat_load import Sender, assert_stored_exactly_once, error_window, first_ack_after
from tests.support.cluster import cluster
from tests.support.harness import register
from tests.support.private_services import PrivateRedis
from tests.support.services import require_postgres
from tests.broker.test_redis import instance
from tests.support.chat_helpers import Api, ChatClient, new_room
from tests.support.waiting import wait_for

require_postgres()

LIMITS = {"CONFAB_CHAT_SEND_RATE": "100000", "CONFAB_RATE_LIMIT_AUTH_BURST": "1000",
          "CONFAB_RATE_LIMIT_USER_BURST": "10000", "CONFAB_RATE_LIMIT_IP_BURST": "10000"}
DOWN_S = 2.0
SHARED_GROUPS = {"chat.commands": "chat.writer"}
pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.close()


def health(instance) -> dict:
    return requests.get(f"{instance.base}/health", timeout=3).json()["components"]


def held_partitions(instance) -> list[tuple[str, str]]:
    """(partition child, group) pairs this instance says it holds."""
    return [(name, group) for name, child in health(instance)["broker"].get("children", {}).items()
            for group in child.get("held", [])]


def everything_held_once(instances, partitions: dict[str, int]) -> bool:
    held = [pair for instance in instances for pair in held_partitions(instance)]
    wanted = {(f"broker.{topic}.{index}", group) for topic, group in SHARED_GROUPS.items()
              for index in range(partitions[topic])}
    return sorted(held) == sorted(wanted)


def held_singletons(instances) -> list[str]:
    """Every singleton job some instance says it holds (a job twice if two instances say so)."""
    return sorted(job for instance in instances for job in health(instance)["cluster"].get("singleton_jobs", []))


def consumer_groups(client: redis.Redis, prefix: str, partitions: dict[str, int]) -> dict[str, set[str]]:
    """stream → its consumer groups, for every partition stream that exists."""
    found = {}
    for topic, count in partitions.items():
        for index in range(count):
            try:
                found[f"{topic}:{index}"] = {g["name"].decode()
                                             for g in client.xinfo_groups(f"{prefix}:stream:{topic}:{index}")}
            except redis.ResponseError:  # no such stream: nobody subscribes, nothing was published
                pass
    return found


def online(instance, login) -> set[str]:
    response = Api(instance.base, login).get("/users/online", params={"limit": 200})
    return {item["id"] for item in response.json()["items"]} if response.status_code == 200 else set()


def read_new_messages(client: ChatClient, seen: dict[int, float], idle_s: float = 0.5) -> None:
    """Everything queued for ``client``: seq → arrival time of each new_message."""
    for frame in client.backlog:
        if frame["type"] == "new_message":
            seen.setdefault(frame["message"]["seq"], time.monotonic())
    client.backlog.clear()
    while True:
        try:
            frame = client.recv(idle_s)
        except Exception:  # noqa: BLE001 — a timeout: nothing more queued
            return
        if frame["type"] == "new_message":
            seen.setdefault(frame["message"]["seq"], time.monotonic())


def test_own_groups_come_back_where_they_stood(private_redis):
    """An instance's own group that Redis lost is created again after the last entry it passed (here:
    from the start of the new stream), so records published before it is back are not skipped."""
    prefix = "confabtest-" + uuid.uuid4().hex[:8]
    fanout, commands = [], []
    with instance(prefix, redis_url=private_redis.url) as publisher, \
            instance(prefix, redis_url=private_redis.url) as subscriber:
        subscriber.subscribe("t", "fanout", fanout.append, each_instance=True)
        subscriber.subscribe("t", "commands", commands.append)
        for i in range(10):
            publisher.publish("t", f"k{i}", str(i).encode())
        wait_for(lambda: len(fanout) == 10 and len(commands) == 10, timeout=10)
        private_redis.stop()
        with pytest.raises(Unavailable):
            publisher.publish("t", "k", b"-1")
        private_redis.start()
        for i in range(10, 30):  # at once: the subscriber's delivery greenlets are still waiting to retry
            publisher.publish("t", f"k{i}", str(i).encode())
        wait_for(lambda: len(fanout) == 30 and len(commands) == 30, timeout=10)
    assert sorted(int(r.value) for r in fanout) == sorted(int(r.value) for r in commands) == list(range(30))


def test_redis_restarting_empty_under_load_loses_nothing(tmp_path, private_redis):
    with cluster(tmp_path, size=2, CONFAB_BROKER_REDIS_URL=private_redis.url, **LIMITS) as running:
        first, second = running.instances
        owner, sender_b, watcher_login = register(first.base), register(second.base), register(second.base)
        room = new_room(Api(first.base, owner), name="through-a-restart")
        for login in (sender_b, watcher_login):
            assert Api(second.base, login).post(f"/rooms/{room}/join").status_code == 200
        watcher = ChatClient(second.ws_base, watcher_login)
        watcher.join(room)
        partitions = {topic: int(n) for topic, n in
                      redis.Redis.from_url(private_redis.url).hgetall(f"{running.prefix}:topics").items()
                      for topic in [topic.decode()]}
        jobs = wait_for(lambda: (held := held_singletons(running.instances)) and len(set(held)) == len(held) and held,
                        timeout=10)
        client = redis.Redis.from_url(private_redis.url)
        groups_before = consumer_groups(client, running.prefix, partitions)
        stop = threading.Event()
        senders = [Sender(first, first, owner, [room], stop, retry_cap_s=0.2, pause_s=0.05),
                   Sender(second, second, sender_b, [room], stop, retry_cap_s=0.2, pause_s=0.05)]
        for sender in senders:
            sender.start()
        seen: dict[int, float] = {}
        wait_for(lambda: all(len(s.acked) >= 10 for s in senders), timeout=20)

        down_at = time.monotonic()
        private_redis.stop()
        ready = []  # (time, /ready status of the first instance) while Redis is down and after
        while time.monotonic() - down_at < DOWN_S:
            ready.append((time.monotonic(), requests.get(f"{first.base}/ready", timeout=5).status_code))
            time.sleep(0.2)
        private_redis.start()
        up_at = time.monotonic()
        settled_at = None  # when every writer partition was held by exactly one instance again
        while ready[-1][1] != 200 or settled_at is None:
            assert time.monotonic() - up_at < 30, "/ready or the partitions did not come back"
            ready.append((time.monotonic(), requests.get(f"{first.base}/ready", timeout=5).status_code))
            if settled_at is None and everything_held_once(running.instances, partitions):
                settled_at = time.monotonic()
            time.sleep(0.2)
        assert any(status == 503 for _, status in ready)
        acked_at_restart = [len(s.acked) for s in senders]
        wait_for(lambda: all(len(s.acked) >= n + 20 for s, n in zip(senders, acked_at_restart)), timeout=60)
        stop.set()
        for sender in senders:
            sender.join(40)
            assert sender.error is None, repr(sender.error)

        # Redis holds again what the cluster needs: groups, leases, one holder each, presence
        wait_for(lambda: everything_held_once(running.instances, partitions), timeout=20)
        wait_for(lambda: held_singletons(running.instances) == jobs, timeout=20)
        wait_for(lambda: consumer_groups(client, running.prefix, partitions) == groups_before, timeout=10)
        for topic, group in SHARED_GROUPS.items():
            assert all(client.exists(f"{running.prefix}:lease:{group}:{topic}:{index}")
                       for index in range(partitions[topic]))
        users = {owner["user"]["id"], sender_b["user"]["id"], watcher_login["user"]["id"]}
        wait_for(lambda: users <= online(first, owner) and users <= online(second, sender_b), timeout=10)

        # live delivery crosses instances again, and nothing acknowledged is lost or doubled
        probe = ChatClient(first.ws_base, owner)
        probe.join(room)
        probe_seq = probe.say(room, "after the restart")["seq"]
        read_deadline = time.monotonic() + 10
        while probe_seq not in seen and time.monotonic() < read_deadline:
            read_new_messages(watcher, seen)
        assert probe_seq in seen, "a message sent on one instance no longer reaches the other live"
        probe.close()
        last = assert_stored_exactly_once(first, owner, [room], senders)[room]
        missed_live = sorted(set(range(1, last + 1)) - set(seen))
        contiguous = next((seq - 1 for seq in range(1, last + 2) if seq not in seen), last)
        watcher.join(room, since_seq=contiguous)  # what a client does on seeing a gap
        read_new_messages(watcher, seen)
        assert set(range(1, last + 1)) <= set(seen)

        # a reply published while an instance's own groups were gone still reaches it: no send made after
        # Redis came back waits out the writer's reply timeout
        assert not [o for s in senders for o in s.outcomes if o.at > up_at + 1 and "in time" in o.message]
        assert all(o.retry_after_s for s in senders for o in s.outcomes if o.kind == "UNAVAILABLE")
        windows = [error_window(s.outcomes) for s in senders]
        recovered = [first_ack_after(s.outcomes, up_at) - up_at for s in senders]
        print(f"\nRedis down {up_at - down_at:.1f} s; errors per instance (s after the kill): "
              f"{[(round(w[0] - down_at, 1), round(w[1] - down_at, 1)) if w else None for w in windows]}; "
              f"first ack after Redis was back: {[round(r, 2) for r in recovered]} s; partitions held once "
              f"{settled_at - up_at:.1f} s after; /ready 503 "
              f"{min(t for t, st in ready if st == 503) - down_at:.1f}–{max(t for t, st in ready if st == 503) - down_at:.1f}"
              f" s after the kill; live events the watcher missed: {len(missed_live)}; "
              f"acked {sum(len(s.acked) for s in senders)}, retries {sum(s.retries for s in senders)}")
        watcher.close()
