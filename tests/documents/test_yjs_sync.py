"""The /yjs endpoint over real sockets with real pycrdt clients: sync, convergence, awareness, access."""
from __future__ import annotations

import random
import struct
from typing import Any

import gevent
import pytest
import requests
import websocket
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycrdt import Doc, Text

from domain import yjs_sync
from tests.support.harness import Server, bearer
from tests.support.harness import register as register_user
from tests.support.yjs_client import YjsClient, wait_until


SERVER_CONFIG = {"collab": {"max_document_bytes": 4096}}


@pytest.fixture(scope="module")
def users(server: Server) -> dict[str, Any]:
    return {name: register_user(server.base) for name in ("owner", "editor", "viewer", "stranger")}


def new_document(server: Server, users: dict[str, Any]) -> str:
    token = users["owner"]["access_token"]
    doc_id = requests.post(f"{server.base}/api/v1/documents", json={"title": "doc"}, headers=bearer(token)).json()["id"]
    for role in ("editor", "viewer"):
        response = requests.post(f"{server.base}/api/v1/documents/{doc_id}/shares", headers=bearer(token),
                                 json={"user_id": users[role]["user"]["id"], "role": role})
        assert response.status_code == 201, response.text
    return doc_id


def client(server: Server, users: dict[str, Any], doc_id: str, who: str = "owner") -> YjsClient:
    peer = YjsClient(f"{server.ws_base}/yjs/{doc_id}", users[who]["access_token"])
    wait_until(lambda: peer.synced, message="initial sync")
    return peer


def rest_document(server: Server, users: dict[str, Any], doc_id: str) -> dict[str, Any]:
    response = requests.get(f"{server.base}/api/v1/documents/{doc_id}", headers=bearer(users["owner"]["access_token"]))
    assert response.status_code == 200, response.text
    return response.json()


def test_two_clients_editing_concurrently_converge(server: Server, users: dict[str, Any]) -> None:
    doc_id = new_document(server, users)
    a, b = client(server, users, doc_id), client(server, users, doc_id, "editor")
    a.insert(0, "héllo")
    b.insert(0, "😀 wörld")
    wait_until(lambda: a.content == b.content and len(a.content) == 12, message="convergence")
    assert a.content in ("héllo😀 wörld", "😀 wörldhéllo")  # concurrent inserts never interleave
    body = wait_until(lambda: (d := rest_document(server, users, doc_id))["version"] == 2 and d)
    assert body["content"] == a.content
    a.close(), b.close()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), rounds=st.integers(2, 6))
def test_random_concurrent_inserts_and_deletes_converge(server: Server, users: dict[str, Any], seed: int,
                                                        rounds: int) -> None:
    rng = random.Random(seed)
    doc_id = new_document(server, users)
    peers = [client(server, users, doc_id, who) for who in ("owner", "editor", "owner")]
    for _ in range(rounds):
        for peer in peers:  # no waiting between peers: the edits are concurrent
            length = len(peer.content)
            if length and rng.random() < 0.4:
                start = rng.randrange(length)
                peer.delete(start, rng.randint(1, min(3, length - start)))
            else:
                peer.insert(rng.randint(0, length), rng.choice(["a", "é", "😀", "xy", "\n"]))
        gevent.sleep(rng.random() * 0.01)
    wait_until(lambda: len({p.content for p in peers}) == 1, message="convergence")
    wait_until(lambda: rest_document(server, users, doc_id)["content"] == peers[0].content, message="stored")
    late = client(server, users, doc_id, "viewer")
    assert late.content == peers[0].content
    for peer in [*peers, late]:
        peer.close()


def test_late_joiner_gets_full_state_and_present_awareness_at_once(server: Server, users: dict[str, Any]) -> None:
    doc_id = new_document(server, users)
    a = client(server, users, doc_id)
    a.insert(0, "first line\n")
    a.set_presence({"user": "ana", "cursor": 3})
    b = client(server, users, doc_id, "editor")
    wait_until(lambda: b.content == "first line\n", message="late joiner state")
    wait_until(lambda: {"user": "ana", "cursor": 3} in b.remote_states().values(), timeout=2,
               message="awareness on join, not at the next renewal")
    a.close()
    wait_until(lambda: not b.remote_states(), message="awareness removed when the socket closes")
    b.close()


def test_viewer_syncs_and_receives_but_cannot_change(server: Server, users: dict[str, Any]) -> None:
    doc_id = new_document(server, users)
    owner, viewer = client(server, users, doc_id), client(server, users, doc_id, "viewer")
    owner.insert(0, "owned")
    wait_until(lambda: viewer.content == "owned", message="viewer receives")
    viewer.insert(0, "VANDAL ")
    other = client(server, users, doc_id, "editor")
    owner.insert(5, "!")
    wait_until(lambda: other.content == "owned!", message="later edit")
    gevent.sleep(0.2)
    assert owner.content == "owned!" and rest_document(server, users, doc_id)["version"] == 2
    for peer in (owner, viewer, other):
        peer.close()


@pytest.mark.parametrize("who", [None, "bad-token", "stranger"])
def test_no_token_or_no_access_closes_1008_before_any_byte(server: Server, users: dict[str, Any],
                                                           who: str | None) -> None:
    doc_id = new_document(server, users)
    owner = client(server, users, doc_id)
    owner.insert(0, "secret")
    token = {"bad-token": "nope", None: None}.get(who, users["stranger"]["access_token"] if who else None)
    for target in (doc_id, "00000000-0000-0000-0000-000000000000"):
        url = f"{server.ws_base}/yjs/{target}" + (f"?token={token}" if token else "")
        ws = websocket.create_connection(url, timeout=5)
        opcode, data = ws.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE, "a document byte was sent before the close"
        assert struct.unpack("!H", data[:2])[0] == 1008
        ws.close()
    owner.close()


def test_oversized_update_is_refused_and_document_unchanged(server: Server, users: dict[str, Any]) -> None:
    doc_id = new_document(server, users)
    a, b = client(server, users, doc_id), client(server, users, doc_id, "editor")
    a.insert(0, "small")
    wait_until(lambda: b.content == "small")
    a.insert(5, "x" * 5000)  # over max_document_bytes = 4096
    b.insert(0, ">")  # the document goes on; (a's own later edits follow the refused one and stay out)
    wait_until(lambda: b.content == ">small", message="later edit")
    gevent.sleep(0.1)
    body = rest_document(server, users, doc_id)
    assert body["content"] == ">small" and body["version"] == 2
    a.close(), b.close()


def test_malformed_messages_leave_document_and_sockets_serving(server: Server, users: dict[str, Any]) -> None:
    doc_id = new_document(server, users)
    a, b = client(server, users, doc_id), client(server, users, doc_id, "editor")
    for junk in (b"\x00\x02\x05garbage", b"\x00\x02\x03\x01\x02\x03", b"\xff\xff", b"\x00\x00\x02\xff\xff",
                 b"\x01\x05\x01\x01\x01\x01{", yjs_sync.awareness(yjs_sync.encode_awareness_states([(5, 1, "{")]))):
        a.ws.send_binary(junk)
    a.ws.send("text is not y-websocket")
    a.insert(0, "still here")
    wait_until(lambda: b.content == "still here", message="socket still serving")
    assert rest_document(server, users, doc_id)["version"] == 1
    a.close(), b.close()


def test_two_clients_opening_a_cold_document_at_once_both_sync(server: Server, users: dict[str, Any]) -> None:
    for _ in range(5):
        doc_id = new_document(server, users)
        peers = [YjsClient(f"{server.ws_base}/yjs/{doc_id}", users["owner"]["access_token"], connect=False)
                 for _ in range(2)]
        gevent.joinall([gevent.spawn(p.connect) for p in peers])
        wait_until(lambda: all(p.synced for p in peers), timeout=5, message="both synced")
        peers[0].insert(0, "x")
        wait_until(lambda: peers[1].content == "x")
        for peer in peers:
            peer.close()


def test_updates_that_arrive_together_reach_the_other_peers_as_one_merged_update(server: Server,
                                                                               users: dict[str, Any]) -> None:
    """A hot document's fan-out does not grow with the number of tiny inserts: 30 updates written in one
    TCP send are applied in order, stored (version 30), and relayed to a peer in far fewer frames."""
    doc_id = new_document(server, users)
    writer, watcher = client(server, users, doc_id), client(server, users, doc_id, "editor")
    source = Doc()
    text = source.get("content", type=Text)
    updates: list[bytes] = []
    source.observe(lambda event: updates.append(event.update))
    for i in range(30):
        text += f"{i} "
    frames = b"".join(websocket.ABNF.create_frame(yjs_sync.sync_update(update), websocket.ABNF.OPCODE_BINARY).format()
                      for update in updates)
    before = len(watcher.received)
    writer.ws.sock.sendall(frames)
    expected = "".join(f"{i} " for i in range(30))
    wait_until(lambda: watcher.content == expected, message="the burst at the watcher")
    relayed = len(watcher.received) - before
    assert 1 <= relayed <= 10, f"{relayed} frames for 30 updates"
    assert rest_document(server, users, doc_id)["version"] == 30
    writer.close()
    watcher.close()
