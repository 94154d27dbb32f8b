"""Delivery guarantees over real sockets: the join seam under concurrent sends, reconnect with
``since_seq``, removal and deletion stopping delivery at once, the send rate limit, group commit."""
import json
import uuid

import gevent
import peewee
import pytest

from actors.chat import batch as chat_batch
from tests.support.harness import POSTGRES_CHAT, close_code, running_server
from tests.support.chat_helpers import ChatClient, new_room, room_with_two_members, user
from tests.chat.test_ws import messages_in

SENDS = 120


SERVER_CONFIG = {"chat": {"send_rate": "1000", "send_window_s": "1"}}
POSTGRESQL_CONFIG = POSTGRES_CHAT


def _sender(client, room, count, prefix):
    """Send ``count`` messages without waiting for each ack (a steady stream), then collect the acks."""
    refs = []
    for i in range(count):
        refs.append(client.send({"type": "send_message", "room_id": room, "content": f"{prefix}{i}",
                                 "client_msg_id": f"{prefix}{i}"}))
        if i % 4 == 0:
            gevent.sleep(0.002)
    return [client.wait_for(lambda f, r=ref: f.get("ref") == r, timeout=20)["message"]["seq"] for ref in refs]


def _collect(client, total, timeout=20):
    seqs = []
    while len(seqs) < total:
        seqs.append(client.wait_for(lambda f: f["type"] == "new_message", timeout)["message"]["seq"])
    return seqs


@pytest.fixture
def lagging_fanout(server, monkeypatch):
    """Delay each delivery so committed messages are still on their way when a client joins: the seam."""
    hub = server.confab.services.chat.hub
    deliver = hub.deliver

    def slow(*args, **kwargs):
        gevent.sleep(0.002)
        return deliver(*args, **kwargs)

    monkeypatch.setattr(hub, "deliver", slow)


@pytest.mark.engines("sqlite", "postgresql")
def test_joining_while_others_send_sees_every_message_exactly_once(server, lagging_fanout):
    room, (a_login, a_api), (b_login, b_api) = room_with_two_members(server)
    sender = ChatClient(server.ws_base, a_login)
    sender.join(room)
    stream = gevent.spawn(_sender, sender, room, SENDS, "m")
    joiners = []
    for _ in range(4):  # join at several points of the stream, each replaying from the start
        gevent.sleep(0.03)
        joiner = ChatClient(server.ws_base, b_login)
        joiner.join(room, since_seq=0)
        joiners.append(joiner)
    acked = stream.get(timeout=30)
    assert sorted(acked) == list(range(1, SENDS + 1))
    for joiner in joiners:
        assert _collect(joiner, SENDS) == list(range(1, SENDS + 1))
        assert not messages_in(joiner.drain())  # and nothing twice
        joiner.close()
    sender.close()


@pytest.mark.engines("sqlite", "postgresql")
def test_reconnecting_with_since_seq_misses_nothing_while_others_keep_sending(server, lagging_fanout):
    room, (a_login, a_api), (b_login, b_api) = room_with_two_members(server)
    sender = ChatClient(server.ws_base, a_login)
    sender.join(room)
    reader = ChatClient(server.ws_base, b_login)
    reader.join(room)
    stream = gevent.spawn(_sender, sender, room, SENDS, "r")
    seen = []
    for _ in range(3):  # read a little, drop the socket, come back from the last seq seen
        seen += _collect(reader, 10)
        reader.close()
        gevent.sleep(0.02)
        reader = ChatClient(server.ws_base, b_login)
        reader.join(room, since_seq=seen[-1])
    stream.get(timeout=30)
    seen += _collect(reader, SENDS - len(seen))
    assert seen == list(range(1, SENDS + 1))
    assert not messages_in(reader.drain())
    reader.close()
    sender.close()


@pytest.mark.engines("sqlite", "postgresql")
def test_removing_a_member_stops_delivery_to_their_sockets_at_once(server):
    (a_login, a_api), (b_login, b_api), (c_login, c_api) = user(server), user(server), user(server)
    room = new_room(a_api)
    for api in (b_api, c_api):
        api.post(f"/rooms/{room}/join")
    admin, removed, other = (ChatClient(server.ws_base, x) for x in (a_login, b_login, c_login))
    for client in (admin, removed, other):
        client.join(room)
    admin.say(room, "before")
    assert removed.of_type("new_message")["message"]["content"] == "before"
    response = a_api.delete(f"/rooms/{room}/members/{removed.user_id}")
    assert response.status_code == 204, response.text
    left = removed.of_type("user_left")
    assert left["user_id"] == removed.user_id and left["room_id"] == room
    admin.say(room, "after")
    other.wait_for(lambda f: f["type"] == "new_message" and f["message"]["content"] == "after")
    assert [m["content"] for m in messages_in(removed.drain())] == []
    reply = removed.request({"type": "send_message", "room_id": room, "content": "x", "client_msg_id": "late"})
    assert reply["error"]["code"] == "FORBIDDEN"
    assert b_api.get(f"/rooms/{room}/messages").status_code == 403
    # a moderator-less member cannot remove anyone
    assert c_api.delete(f"/rooms/{room}/members/{admin.user_id}").status_code == 403
    for client in (admin, removed, other):
        client.close()


def test_deleting_a_room_stops_delivery_and_forgets_it(server):
    room, (a_login, a_api), (b_login, b_api) = room_with_two_members(server)
    member = ChatClient(server.ws_base, b_login)
    member.join(room)
    assert b_api.delete(f"/rooms/{room}").status_code == 403  # members do not delete rooms
    assert a_api.delete(f"/rooms/{room}").status_code == 204
    assert a_api.get(f"/rooms/{room}").status_code == 404
    reply = member.request({"type": "send_message", "room_id": room, "content": "x", "client_msg_id": "gone"})
    assert reply["error"]["code"] == "NOT_FOUND"
    assert not messages_in(member.drain())
    member.close()


def test_a_socket_closing_before_its_acks_costs_nobody_else_anything(server):
    (a_login, a_api), (b_login, _) = user(server), user(server)
    room = new_room(a_api)
    quitter = ChatClient(server.ws_base, b_login)
    a_api.post(f"/rooms/{room}/members", json={"user_id": quitter.user_id})
    quitter.join(room)
    for i in range(30):
        quitter.send({"type": "send_message", "room_id": room, "content": f"q{i}", "client_msg_id": f"q{i}"})
    quitter.ws.close()  # gone before most acks are written
    stayer = ChatClient(server.ws_base, a_login)
    stayer.join(room)
    assert stayer.say(room, "still here")["seq"] > 0
    assert server.confab.services.chat.pending == {}
    stayer.close()


@pytest.mark.engines("sqlite", "postgresql")
def test_group_commit_writes_what_arrived_together_in_one_transaction(server, monkeypatch):
    login, api = user(server)
    room = new_room(api)
    batches = []
    real = chat_batch.apply_batch
    monkeypatch.setattr(chat_batch, "apply_batch", lambda batch: batches.append(len(batch)) or real(batch))
    chat = server.confab.services.chat
    results = []
    for i in range(40):  # queued before the writer looks: one flush
        chat.queue.append({"op": "send", "cid": f"gc{i}", "user_id": login["user"]["id"], "room_id": room,
                           "content": str(i), "client_msg_id": f"gc{i}"})
        chat.pending[f"gc{i}"] = results.append
    chat.kick()
    deadline = gevent.Timeout(5)
    with deadline:
        while len(results) < 40:
            gevent.sleep(0.01)
    assert batches == [40]
    assert [o.reply["message"]["seq"] for o in results] == list(range(1, 41))


def commit_together(chat, commands):
    """Queue ``commands`` before the writer looks (one batch); their outcomes, in order."""
    outcomes = {}
    for command in commands:
        chat.queue.append(command)
        chat.pending[command["cid"]] = lambda outcome, cid=command["cid"]: outcomes.__setitem__(cid, outcome)
    chat.kick()
    with gevent.Timeout(5):
        while len(outcomes) < len(commands):
            gevent.sleep(0.01)
    return [outcomes[c["cid"]] for c in commands]


@pytest.mark.engines("sqlite", "postgresql")
def test_a_command_the_database_refuses_fails_alone_in_its_batch(server):
    """One command's database error (here a foreign key: a user that does not exist) must not cost the
    other commands of its group commit their acks: the batch is applied again, a savepoint each."""
    login, api = user(server)
    room = new_room(api)
    me = login["user"]["id"]
    sends = [{"op": "send", "cid": f"ok{i}", "user_id": me, "room_id": room, "content": f"ok {i}",
              "client_msg_id": f"ok{i}"} for i in range(3)]
    ghost = {"op": "join", "cid": "ghost", "user_id": str(uuid.uuid4()), "username": "ghost", "room_id": room}
    outcomes = commit_together(server.confab.services.chat, [sends[0], ghost, *sends[1:]])
    assert [o.error.code if o.error else o.reply["message"]["seq"] for o in outcomes] == [1, "CONFLICT", 2, 3]
    assert [m["seq"] for m in api.get(f"/rooms/{room}/messages").json()["items"]] == [1, 2, 3]


@pytest.mark.engines("postgresql")
def test_a_nul_character_fails_only_its_own_command(server):
    """PostgreSQL refuses NUL in text (DataError): the frame schemas refuse it first, and if one ever
    reaches the writer, it fails alone with BAD_REQUEST and the rest of the batch is acknowledged."""
    login, api = user(server)
    room = new_room(api)
    me = login["user"]["id"]
    commands = [{"op": "send", "cid": f"n{i}", "user_id": me, "room_id": room, "content": text,
                 "client_msg_id": f"n{i}"} for i, text in enumerate(["before", "bad \x00 text", "after"])]
    outcomes = commit_together(server.confab.services.chat, commands)
    assert [o.error.code if o.error else o.reply["message"]["content"] for o in outcomes] == \
        ["before", "BAD_REQUEST", "after"]


def test_a_storage_failure_is_unavailable_for_that_batch_and_the_next_one_works(server, monkeypatch):
    login, api = user(server)
    room = new_room(api)
    client = ChatClient(server.ws_base, login)
    client.join(room)
    real = chat_batch.apply_batch

    def failing(batch):
        monkeypatch.setattr(chat_batch, "apply_batch", real)  # fails once
        raise peewee.OperationalError("disk I/O error")

    monkeypatch.setattr(chat_batch, "apply_batch", failing)
    refused = client.request({"type": "send_message", "room_id": room, "content": "x", "client_msg_id": "s1"})
    assert refused["error"]["code"] == "UNAVAILABLE"
    assert client.say(room, "x", client_msg_id="s1")["seq"] == 1  # the retry with the same id is stored once
    assert [m["seq"] for m in messages_in(client.drain())] == [1]
    client.close()


def test_over_the_send_rate_is_refused_then_closed_with_4429(tmp_path):
    with running_server(tmp_path, chat={"send_rate": "3", "send_window_s": "60",
                                        "rate_limit_close_after": "3"}) as server:
        login, api = user(server)
        room = new_room(api)
        client = ChatClient(server.ws_base, login)
        client.join(room)
        for i in range(3):
            client.say(room, f"ok {i}")
        refused = client.request({"type": "send_message", "room_id": room, "content": "x", "client_msg_id": "x1"})
        assert refused["error"]["code"] == "RATE_LIMITED" and refused["error"]["details"]["retry_after_s"] >= 1
        assert client.request({"type": "ping"})["type"] == "pong"  # still open
        # the limit is per user: a second socket of the same user is refused too
        second = ChatClient(server.ws_base, login)
        again = second.request({"type": "send_message", "room_id": room, "content": "y", "client_msg_id": "y1"})
        assert again["error"]["code"] == "RATE_LIMITED"
        second.close()
        for i in range(2):
            client.ws.send(json.dumps({"type": "send_message", "room_id": room, "content": "z",
                                       "client_msg_id": f"z{i}"}))
        assert close_code(client.ws) == 4429
        assert len(api.get(f"/rooms/{room}/messages").json()["items"]) == 3
