"""The Python SDK against real servers: typed errors, token refresh, a /ws session that acks sends and
resumes without gap or duplicate (a dropped socket, a server killed and restarted on its data dir),
and documents kept in sync over /yjs."""
import threading
import time
import uuid

import gevent
import jwt
import pytest

from actors.gateway import CloseSessions
from confab_client import BadRequest, Client, Conflict, Forbidden, NotFound, RateLimited, Unauthorized
from tests.support.harness import ServerProcess, serving
from tests.support.tcp_gate import TcpGate
from tests.support.waiting import wait_for


SERVER_CONFIG = {"chat": {"send_rate": "500"}}


def person(base, **options):
    client = Client(base, **options)
    name = "u" + uuid.uuid4().hex[:10]
    client.register(name, f"{name}@example.com", "correct horse")
    client.login(name, "correct horse")
    return client


def messages_of(session, count, timeout_s=15.0):
    """The next ``count`` messages the session hands out (failing if fewer come in time)."""
    found = []
    deadline = time.monotonic() + timeout_s
    while len(found) < count and time.monotonic() < deadline:
        for event in session.events(timeout_s=max(0.1, deadline - time.monotonic())):
            if event.message is not None:
                found.append(event.message)
                if len(found) == count:
                    break
    assert len(found) == count, f"{len(found)} of {count}: {[m['seq'] for m in found]}"
    return found


def test_api_errors_are_raised_as_their_types(server):
    ana = person(server.base)
    with pytest.raises(NotFound) as missing:
        ana.room(str(uuid.uuid4()))
    assert missing.value.status == 404 and missing.value.request_id
    with pytest.raises(BadRequest) as bad:
        ana.create_room("")
    assert "name" in bad.value.details["fields"]
    with pytest.raises(Conflict):
        ana.register(ana.me()["username"], "other@example.com", "correct horse")
    with pytest.raises(Forbidden):
        person(server.base).send_message(ana.create_room("mine")["id"], "not a member")
    with pytest.raises(Unauthorized):
        Client(server.base, api_key="cfk_nope").me()
    with pytest.raises(Unauthorized):
        Client(server.base).login(ana.me()["username"], "wrong password")


def test_a_session_acks_sends_and_hands_out_events_and_callbacks(server):
    ana, bob = person(server.base), person(server.base)
    room = ana.create_room("chat")["id"]
    bob.join_room(room)
    heard, both = [], threading.Event()

    def hear(event):
        heard.append(event.message["seq"])
        if len(heard) == 2:
            both.set()

    with ana.chat() as session:
        session.on("new_message", hear)
        assert session.join(room)["id"] == room
        mine = session.send_message(room, "hello")
        assert mine["seq"] == 1 and mine["content"] == "hello"
        theirs = bob.send_message(room, "hi ana")
        assert [m["id"] for m in messages_of(session, 2)] == [mine["id"], theirs["id"]]
        assert both.wait(5) and heard == [1, 2] and session.last_seq(room) == 2
        assert session.request({"type": "ping"})["type"] == "pong"
        with pytest.raises(NotFound):
            session.request({"type": "delete_message", "message_id": str(uuid.uuid4())})
        with pytest.raises(BadRequest):
            session.send_message(room, "")


def test_a_callback_may_send_without_blocking_the_session(server):
    ana, bob = person(server.base), person(server.base)
    room = ana.create_room("echo")["id"]
    bob.join_room(room)
    with ana.chat() as session:
        session.join(room)
        session.on("new_message", lambda e: e.message["content"] == "ping" and session.send_message(room, "pong"))
        bob.send_message(room, "ping")
        wait_for(lambda: [m["content"] for m in bob.history(room)] == ["ping", "pong"], timeout=10,
                 interval=0.1)


def through(gate, client):
    """The same identity, reaching the server through ``gate``."""
    return Client(gate.base, access_token=client.access_token, refresh_token=client.refresh_token)


def test_a_dropped_socket_resumes_without_gap_or_duplicate(server):
    ana, bob = person(server.base), person(server.base)
    room = ana.create_room("resume")["id"]
    bob.join_room(room)
    gate = TcpGate(server.port)
    try:
        with through(gate, ana).chat(backoff_s=0.1, backoff_max_s=0.2) as session:
            session.join(room, since_seq=0)
            bob.send_message(room, "before")
            assert [m["seq"] for m in messages_of(session, 1)] == [1]
            gate.cut()
            for i in range(5):  # while it cannot reach the server
                bob.send_message(room, f"away {i}")
            assert list(session.events(timeout_s=0.5)) == []
            gate.reopen()
            away = messages_of(session, 5)
            # the server may also close a socket on purpose (4008: a slow consumer is told to resume)
            server.confab.services.gateway.tell(CloseSessions(4008, "slow consumer", user_id=ana.me()["id"]))
            wait_for(lambda: session.reconnects == 2, timeout=10, interval=0.1)
            sent = session.send_message(room, "mine after")
            last = messages_of(session, 1)
    finally:
        gate.close()
    assert [m["content"] for m in away] == [f"away {i}" for i in range(5)]
    assert [m["seq"] for m in away + last] == list(range(2, 8)) and last[0]["id"] == sent["id"]


def test_a_capped_replay_is_completed_over_rest_before_what_follows(tmp_path):
    """The server replays only the newest ``chat.replay_max`` missed messages and names the gap; the
    session hands out the whole run, in order, before the replayed ones."""
    with serving(tmp_path, env={"CONFAB_CHAT_REPLAY_MAX": "3", "CONFAB_CHAT_SEND_RATE": "500"}) as server:
        ana, bob = person(server.base), person(server.base)
        room = ana.create_room("capped")["id"]
        bob.join_room(room)
        gate = TcpGate(server.port)
        try:
            with through(gate, ana).chat(backoff_s=0.1, backoff_max_s=0.2) as session:
                session.join(room, since_seq=0)
                gate.cut()
                for i in range(10):
                    bob.send_message(room, f"missed {i}")
                gate.reopen()
                caught_up = messages_of(session, 10)
                bob.send_message(room, "live")
                live = messages_of(session, 1)
        finally:
            gate.close()
    assert [m["content"] for m in caught_up] == [f"missed {i}" for i in range(10)]
    assert [m["seq"] for m in caught_up + live] == list(range(1, 12))


def test_resuming_many_rooms_stays_inside_the_servers_frame_budget(tmp_path):
    """32 rooms to rejoin against a budget of 8 frames and 8 a second: the rejoins go a few at a time
    and a refused one is retried after its wait, so every room resumes (sent all at once, the 20th
    refusal in a row would close the socket with 4429, again at every reconnect)."""
    env = {"CONFAB_SERVER_WS_FRAME_RATE_PER_S": "8", "CONFAB_SERVER_WS_FRAME_BURST": "8",
           "CONFAB_CHAT_SEND_RATE": "500"}
    with serving(tmp_path, env=env) as server:
        ana, bob = person(server.base), person(server.base)
        rooms = [ana.create_room(f"r{i}")["id"] for i in range(32)]
        gate = TcpGate(server.port)
        try:
            with through(gate, ana).chat(backoff_s=0.1, backoff_max_s=0.5) as session:
                for room in rooms:
                    _join_within_budget(session, room)
                    bob.join_room(room)
                gate.cut()
                for room in rooms:
                    bob.send_message(room, f"while away in {room}")
                gate.reopen()
                arrived = messages_of(session, 32, timeout_s=30)
        finally:
            gate.close()
    assert sorted(m["room_id"] for m in arrived) == sorted(rooms) and {m["seq"] for m in arrived} == {1}


def _join_within_budget(session, room):
    while True:
        try:
            return session.join(room, since_seq=0)
        except RateLimited as limited:
            gevent.sleep(limited.retry_after_s)


def _restart_on(data_dir, port):
    """``python app.py`` again on the same data dir and port, as an operator restarts it."""
    restarted = ServerProcess(data_dir, "--port", str(port))
    restarted.port, restarted.base = port, f"http://127.0.0.1:{port}"
    restarted.wait_ready()
    return restarted


def test_the_session_resumes_across_a_server_restart_without_gap_or_duplicate(tmp_path):
    server = ServerProcess(tmp_path / "data")
    gate = None
    try:
        server.wait_ready()
        gate = TcpGate(server.port)
        ana, bob = person(server.base), person(server.base)
        room = ana.create_room("restart")["id"]
        bob.join_room(room)
        session = through(gate, ana).chat(backoff_s=0.1, backoff_max_s=0.5)
        session.join(room, since_seq=0)
        for i in range(3):
            bob.send_message(room, f"before {i}")
        assert [m["seq"] for m in messages_of(session, 2)] == [1, 2]  # the third may be in flight
        gate.cut()  # keep the session away until the others have talked
        server.process.kill()  # kill -9: no goodbye
        server.process.wait(10)
        server = _restart_on(tmp_path / "data", server.port)
        for i in range(5):
            bob.send_message(room, f"after {i}")
        pending = gevent.spawn(session.send_message, room, "mine, sent while away")
        gevent.sleep(0.3)
        gate.reopen()
        mine = pending.get(timeout=20)
        rest = messages_of(session, 7)
        session.close()
        history = ana.history(room)
    finally:
        server.stop()
        if gate is not None:
            gate.close()
    assert [m["seq"] for m in rest] == list(range(3, 10)) and mine["seq"] == 9
    assert [m["content"] for m in rest] == ["before 2"] + [f"after {i}" for i in range(5)] + ["mine, sent while away"]
    assert len(history) == 9 and history[-1]["content"] == "mine, sent while away"  # stored once


def short_lived(server, client, seconds):
    """An access token for the same user that expires in ``seconds`` (signed with the server's secret)."""
    secret = (server.confab.services.config.data_path / "jwt_secret").read_text().strip()
    me, now = client.me(), int(time.time())
    return jwt.encode({"sub": me["id"], "name": me["username"], "iat": now, "exp": now + seconds, "typ": "access",
                       "jti": uuid.uuid4().hex[:16]}, secret, algorithm="HS256")


def test_an_expired_access_token_is_refreshed_for_rest_and_the_socket(server):
    stored = []
    ana, bob = person(server.base, on_tokens=stored.append), person(server.base)
    room = ana.create_room("refresh")["id"]
    bob.join_room(room)
    ana.access_token = short_lived(server, ana, 1)
    with ana.chat(backoff_s=0.1) as session:
        session.join(room, since_seq=0)
        # the server closes the socket with 1008 when its token expires; the session refreshes and resumes
        wait_for(lambda: session.reconnects >= 1, timeout=10, interval=0.1)
        bob.send_message(room, "after expiry")
        assert [m["content"] for m in messages_of(session, 1)] == ["after expiry"]
    assert stored[-1]["access_token"] == ana.access_token
    ana.access_token = short_lived(server, ana, 1)
    gevent.sleep(1.5)
    assert ana.me()["id"] and stored[-1]["access_token"] == ana.access_token  # REST: refreshed on the 401


def test_a_revoked_key_ends_the_session_with_unauthorized(server):
    owner = person(server.base)
    created = owner.create_bot("revoked")
    bot = Client(server.base, api_key=created["api_key"]["key"])
    session = bot.chat(backoff_s=0.1)
    owner.delete_bot(created["bot"]["id"])
    with pytest.raises(Unauthorized):
        list(session.events(timeout_s=10))
    with pytest.raises(Unauthorized):
        session.send_message(str(uuid.uuid4()), "too late")
    session.close()


def test_a_rate_limited_send_raises_with_its_wait(tmp_path):
    with serving(tmp_path, env={"CONFAB_CHAT_SEND_RATE": "1", "CONFAB_CHAT_SEND_WINDOW_S": "30"}) \
            as server:
        ana = person(server.base)
        room = ana.create_room("limited")["id"]
        with ana.chat() as session:
            session.send_message(room, "one")
            with pytest.raises(RateLimited) as limited:
                session.send_message(room, "two")
        assert limited.value.retry_after_s >= 1


def test_a_document_opens_as_a_pycrdt_doc_kept_in_sync(server):
    ana, bob = person(server.base), person(server.base)
    document = ana.create_document("notes")
    ana.request("POST", f"/api/v1/documents/{document['id']}/shares",
                json={"username": bob.me()["username"], "role": "editor"})
    with ana.open_document(document["id"]) as mine, bob.open_document(document["id"]) as theirs:
        mine.replace_text("héllo world")
        theirs.wait_for(lambda text: text == "héllo world")
        theirs.replace_text("héllo big world")
        mine.wait_for(lambda text: text == "héllo big world")
        mine.append_text("!")
        mine.flush()
        assert ana.document(document["id"])["content"] == "héllo big world!"
        theirs.wait_for(lambda text: text.endswith("!"))
    viewer = person(server.base)
    ana.request("POST", f"/api/v1/documents/{document['id']}/shares",
                json={"username": viewer.me()["username"], "role": "viewer"})
    with viewer.open_document(document["id"]) as read_only:
        assert read_only.content == "héllo big world!"
