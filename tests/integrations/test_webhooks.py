"""Webhooks against a real local HTTP receiver that checks every signature: retries after a failure,
order per webhook, only rooms the owner can read, disabling after failures in a row (with a live
notification), on SQLite and PostgreSQL; pending deliveries surviving a kill -9 of the server, and
the deliveries of acknowledged events surviving a kill right after the ack with the in-memory broker."""
import hashlib
import hmac
import json
import sqlite3

import pytest
from gevent.pywsgi import WSGIServer

from tests.support.harness import ServerProcess, free_port, register
from tests.support.chat_helpers import Api, ChatClient, new_room, user
from tests.support.waiting import wait_for

CONFIG = {"backoff_base_s": "0.1", "backoff_max_s": "0.3", "max_failures": "3", "timeout_s": "2",
          "allowed_targets": "127.0.0.1/32"}  # the receiver is local: allowed, as a self-hoster would
LOCAL_RECEIVER = {"CONFAB_WEBHOOKS_ALLOWED_TARGETS": "127.0.0.1/32"}


class Receiver:
    """An HTTP server on 127.0.0.1: per path, the webhook secret to check and how many requests to fail."""

    def __init__(self, port=0):
        self.secrets, self.failures, self.requests = {}, {}, []
        self.server = WSGIServer(("127.0.0.1", port), self.app, log=None)
        self.server.start()
        self.port = self.server.server_port

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def app(self, environ, start_response):
        path, body = environ["PATH_INFO"], environ["wsgi.input"].read()
        expected = "sha256=" + hmac.new(self.secrets.get(path, "").encode(), body, hashlib.sha256).hexdigest()
        valid = hmac.compare_digest(environ.get("HTTP_X_CONFAB_SIGNATURE", ""), expected)
        failing = valid and self.failures.get(path, 0) > 0
        if failing:
            self.failures[path] -= 1
        self.requests.append({"path": path, "valid": valid, "ok": valid and not failing, "body": json.loads(body),
                              "event": environ.get("HTTP_X_CONFAB_EVENT"),
                              "delivery": environ.get("HTTP_X_CONFAB_DELIVERY")})
        start_response("401 Unauthorized" if not valid else "500 Oops" if failing else "204 No Content", [])
        return [b""]

    def delivered(self, path):
        return [r for r in self.requests if r["path"] == path and r["ok"]]

    def close(self):
        self.server.stop(timeout=1)


# one server per engine: deliveries are written by the chat writer's own SQL on both
pytestmark = pytest.mark.engines("sqlite", "postgresql")
SERVER_CONFIG = {"webhooks": CONFIG, "chat": {"send_rate": "100"}}


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.close()


def hook(api, receiver, path, events):
    response = api.post("/webhooks", json={"url": receiver.url(path), "events": events})
    assert response.status_code == 201, response.text
    created = response.json()
    receiver.secrets[path] = created["secret"]
    return created


def test_signed_delivery_is_retried_after_a_failure_and_arrives_in_order(server, receiver):
    (a_login, a_api), (c_login, c_api) = user(server), user(server)
    created = hook(a_api, receiver, "/a", ["message.created", "reaction.added"])
    assert created["secret"].startswith("whsec_") and created["is_active"] and created["failure_count"] == 0
    listed = a_api.get("/webhooks").json()
    assert [w["id"] for w in listed] == [created["id"]] and created["secret"] not in json.dumps(listed)
    hook(c_api, receiver, "/c", ["message.created"])  # c's room access decides what c's webhook gets
    receiver.failures["/a"] = 1
    room = new_room(a_api)
    a = ChatClient(server.ws_base, a_login)
    a.join(room)
    first = a.say(room, "first")

    wait_for(lambda: receiver.delivered("/a"), timeout=15)
    attempts = [r for r in receiver.requests if r["path"] == "/a"]
    assert [r["ok"] for r in attempts] == [False, True]  # failed once with 500, then retried
    assert attempts[0]["delivery"] == attempts[1]["delivery"] == attempts[1]["body"]["id"]
    assert attempts[0]["body"] == attempts[1]["body"]  # the same signed body on every attempt
    body = attempts[1]["body"]
    assert body["event"] == "message.created" and attempts[1]["event"] == "message.created"
    assert body["data"]["id"] == first["id"] and body["data"]["content"] == "first" and body["created_at"]
    wait_for(lambda: a_api.get("/webhooks").json()[0]["failure_count"] == 0)  # reset once the success is recorded

    later = [a.say(room, f"m{i}")["id"] for i in range(5)]
    edited = a.request({"type": "edit_message", "message_id": later[0], "new_content": "not subscribed"})
    assert edited["type"] == "ack"
    assert a.request({"type": "add_reaction", "message_id": first["id"], "emoji": "👍"})["type"] == "ack"
    assert c_api.post(f"/rooms/{room}/join").status_code == 200
    after_join = a.say(room, "c can read this one")["id"]

    wait_for(lambda: len(receiver.delivered("/a")) == 8 and receiver.delivered("/c"), timeout=15)
    events = [(r["event"], r["body"]["data"].get("id") or r["body"]["data"]["emoji"]) for r in receiver.delivered("/a")]
    assert events == [("message.created", first["id"])] + [("message.created", i) for i in later] + \
        [("reaction.added", "👍"), ("message.created", after_join)]
    assert [r["body"]["data"]["id"] for r in receiver.delivered("/c")] == [after_join]
    assert all(r["valid"] for r in receiver.requests)
    a.close()


def test_a_webhook_failing_in_a_row_is_disabled_and_its_owner_notified(server, receiver):
    a_login, a_api = user(server)
    created = hook(a_api, receiver, "/down", ["message.created"])
    receiver.failures["/down"] = 1000
    room = new_room(a_api)
    a = ChatClient(server.ws_base, a_login)
    a.join(room)
    a.say(room, "nobody will get this")
    a.say(room, "nor this")
    live = a.wait_for(lambda f: f["type"] == "notification", timeout=20)["notification"]
    assert live["kind"] == "webhook_disabled" and live["actor"] is None and live["room_id"] is None
    assert created["url"] in live["snippet"]
    state = a_api.get("/webhooks").json()[0]
    assert (state["is_active"], state["failure_count"]) == (False, 3)
    attempts = [r for r in receiver.requests if r["path"] == "/down"]
    assert len(attempts) == 3 and len({r["delivery"] for r in attempts}) == 1  # the second never went out
    assert a_api.get("/notifications").json()["items"][0]["id"] == live["id"]

    receiver.failures["/down"] = 0  # the endpoint is back: its owner turns the webhook on again
    on = a_api.patch(f"/webhooks/{created['id']}", json={"is_active": True})
    assert on.status_code == 200 and (on.json()["is_active"], on.json()["failure_count"]) == (True, 0)
    again = a.say(room, "after the repair")
    wait_for(lambda: [r for r in receiver.delivered("/down") if r["body"]["data"]["id"] == again["id"]], timeout=10)
    assert user(server)[1].patch(f"/webhooks/{created['id']}", json={"is_active": True}).status_code == 404
    assert a_api.patch(f"/webhooks/{created['id']}", json={"events": []}).status_code == 400
    a.close()


def test_bad_webhooks_are_refused_and_only_the_owner_deletes(server, receiver):
    (_, a_api), (_, b_api) = user(server), user(server)
    for body, field in [({"url": "ftp://x.example/hook", "events": ["message.created"]}, "url"),
                        ({"url": "http://user:pw@x.example/", "events": ["message.created"]}, "url"),
                        ({"url": "not a url", "events": ["message.created"]}, "url"),
                        ({"url": receiver.url("/x"), "events": []}, "events"),
                        ({"url": receiver.url("/x"), "events": ["message.exploded"]}, "events"),
                        ({"url": receiver.url("/x")}, "events")]:
        response = a_api.post("/webhooks", json=body)
        assert response.status_code == 400, body
        assert field in response.json()["error"]["details"]["fields"], response.json()
    assert a_api.get("/webhooks").json() == []
    created = hook(a_api, receiver, "/x", ["message.deleted"])
    assert b_api.delete(f"/webhooks/{created['id']}").json()["error"]["code"] == "NOT_FOUND"
    assert a_api.delete(f"/webhooks/{created['id']}").status_code == 204
    assert a_api.delete(f"/webhooks/{created['id']}").status_code == 404
    assert a_api.get("/webhooks").json() == []


def pending_deliveries(data_dir):
    with sqlite3.connect(f"file:{data_dir / 'confab.db'}?mode=ro", uri=True) as db:
        return db.execute("SELECT COUNT(*) FROM webhook_delivery WHERE status = 'pending'").fetchone()[0]


def test_pending_deliveries_survive_a_kill_of_the_server(tmp_path):
    env = {"CONFAB_WEBHOOKS_BACKOFF_BASE_S": "0.1", "CONFAB_WEBHOOKS_BACKOFF_MAX_S": "0.3", **LOCAL_RECEIVER,
           "CONFAB_WEBHOOKS_MAX_FAILURES": "1000"}
    port = free_port()  # nothing listens there yet: every attempt fails
    first = ServerProcess(tmp_path, env=env)
    try:
        first.wait_ready()
        login = register(first.base)
        api = Api(first.base, login)
        created = api.post("/webhooks", json={"url": f"http://127.0.0.1:{port}/hook", "events": ["message.created"]})
        assert created.status_code == 201
        room = new_room(api)
        client = ChatClient(first.ws_base, login)
        sent = [client.say(room, f"m{i}")["id"] for i in range(5)]
        client.close()
        wait_for(lambda: pending_deliveries(tmp_path) == 5 and api.get("/webhooks").json()[0]["failure_count"] >= 1,
                 timeout=15)
    finally:
        first.stop()  # kill -9 with five deliveries pending

    receiver = Receiver(port)
    receiver.secrets["/hook"] = created.json()["secret"]
    second = ServerProcess(tmp_path, env=env)
    try:
        second.wait_ready()
        wait_for(lambda: len(receiver.delivered("/hook")) == 5, timeout=20)
        assert [r["body"]["data"]["id"] for r in receiver.delivered("/hook")] == sent
        assert all(r["valid"] for r in receiver.requests)
        wait_for(lambda: pending_deliveries(tmp_path) == 0)  # recorded once the receiver has answered
    finally:
        second.stop()
        receiver.close()



def test_acknowledged_events_reach_the_webhook_although_the_server_dies_right_after_the_ack(tmp_path):
    """In-memory broker without a log: the ``chat.events`` records of a burst of sends die with the
    process, killed (SIGKILL) the moment the last ack arrives; the deliveries committed with the
    messages survive, and the restarted server sends every event once, in order."""
    env = {"CONFAB_BROKER_BACKEND": "memory", "CONFAB_BROKER_LOG": "off", "CONFAB_CHAT_SEND_RATE": "1000",
           "CONFAB_WEBHOOKS_BACKOFF_BASE_S": "0.1", "CONFAB_WEBHOOKS_BACKOFF_MAX_S": "0.3", **LOCAL_RECEIVER,
           "CONFAB_WEBHOOKS_MAX_FAILURES": "1000"}
    port = free_port()  # nothing listens there during the first run: nothing is delivered before the kill
    first = ServerProcess(tmp_path, env=env)
    try:
        first.wait_ready()
        login = register(first.base)
        api = Api(first.base, login)
        created = api.post("/webhooks", json={"url": f"http://127.0.0.1:{port}/hook", "events": [
            "message.created", "message.edited", "message.deleted", "reaction.added", "reaction.removed"]})
        assert created.status_code == 201, created.text
        room = new_room(api)
        client = ChatClient(first.ws_base, login)
        early = [client.say(room, f"early {i}")["id"] for i in range(3)]
        for frame in ({"type": "edit_message", "message_id": early[0], "new_content": "edited"},
                      {"type": "delete_message", "message_id": early[1]},
                      {"type": "add_reaction", "message_id": early[2], "emoji": "👍"},
                      {"type": "remove_reaction", "message_id": early[2], "emoji": "👍"}):
            assert client.request(frame)["type"] == "ack"
        refs = [client.send({"type": "send_message", "room_id": room, "content": f"burst {i}",
                             "client_msg_id": f"burst-{i}"}) for i in range(40)]
        acks = [client.wait_for(lambda f, ref=ref: f.get("ref") == ref, timeout=15) for ref in refs]
    finally:
        first.stop()  # SIGKILL right after the last ack: events still queued in memory die with the process
    client.close()
    assert all(a["type"] == "ack" for a in acks), acks
    burst = [a["message"]["id"] for a in acks]

    receiver = Receiver(port)
    receiver.secrets["/hook"] = created.json()["secret"]
    second = ServerProcess(tmp_path, env=env)
    try:
        second.wait_ready()
        expected = [("message.created", m) for m in early] + [
            ("message.edited", early[0]), ("message.deleted", early[1]), ("reaction.added", early[2]),
            ("reaction.removed", early[2])] + [("message.created", m) for m in burst]
        wait_for(lambda: len(receiver.delivered("/hook")) >= len(expected), timeout=30)
        got = [(r["event"], r["body"]["data"].get("message_id") or r["body"]["data"]["id"])
               for r in receiver.delivered("/hook")]
        assert got == expected  # each event once, in the order it was committed
        assert all(r["valid"] and r["event"] == r["body"]["event"] for r in receiver.requests)
        edited = receiver.delivered("/hook")[3]["body"]["data"]
        assert (edited["content"], edited["is_edited"]) == ("edited", True)
        assert receiver.delivered("/hook")[5]["body"]["data"]["emoji"] == "👍"
    finally:
        second.stop()
        receiver.close()
