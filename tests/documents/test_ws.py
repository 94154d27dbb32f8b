"""The JSON side of documents on /ws, and its meeting with Yjs clients on the same document."""
from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import websocket

from tests.support.harness import Server, bearer, connect_ws, ws_request
from tests.support.harness import register as register_user
from tests.support.yjs_client import YjsClient, wait_until


@pytest.fixture(scope="module")
def users(server: Server) -> dict[str, Any]:
    return {name: register_user(server.base) for name in ("owner", "viewer", "stranger")}


@pytest.fixture
def doc_id(server: Server, users: dict[str, Any]) -> str:
    token = users["owner"]["access_token"]
    doc = requests.post(f"{server.base}/api/v1/documents", json={"title": "d"}, headers=bearer(token)).json()["id"]
    requests.post(f"{server.base}/api/v1/documents/{doc}/shares", headers=bearer(token),
                  json={"username": users["viewer"]["user"]["username"], "role": "viewer"}).raise_for_status()
    return doc


def json_client(server: Server, users: dict[str, Any], who: str = "owner") -> websocket.WebSocket:
    return connect_ws(f"{server.ws_base}/ws", users[who]["access_token"])


def next_of(ws: websocket.WebSocket, frame_type: str) -> dict[str, Any]:
    while True:
        frame = json.loads(ws.recv())
        if frame["type"] == frame_type:
            return frame


def content(server: Server, users: dict[str, Any], doc_id: str) -> dict[str, Any]:
    return requests.get(f"{server.base}/api/v1/documents/{doc_id}", headers=bearer(users["owner"]["access_token"])).json()


def test_json_and_yjs_clients_edit_the_same_document_and_converge(server: Server, users: dict[str, Any],
                                                                  doc_id: str) -> None:
    ws = json_client(server, users)
    joined = ws_request(ws, {"type": "join_document", "document_id": doc_id, "ref": "j"})
    assert joined["type"] == "ack" and joined["ref"] == "j" and joined["version"] == 0 and joined["content"] == ""
    yjs = YjsClient(f"{server.ws_base}/yjs/{doc_id}", users["owner"]["access_token"])
    wait_until(lambda: yjs.synced)
    ack = ws_request(ws, {"type": "edit_document", "document_id": doc_id, "ref": "e1",
                          "ops": [{"insert": "a😀b"}]})
    assert ack == {"type": "ack", "ref": "e1", "document_id": doc_id, "version": 1}
    wait_until(lambda: yjs.content == "a😀b", message="yjs sees the JSON edit")
    ack = ws_request(ws, {"type": "edit_document", "document_id": doc_id, "ref": "e2",
                          "ops": [{"retain": 2}, {"insert": "é"}, {"delete": 1}]})
    assert ack["version"] == 2
    wait_until(lambda: yjs.content == "a😀é", message="code points, not bytes")
    yjs.insert(1, "ü")  # code point 1: between "a" and the emoji
    event = next_of(ws, "document_updated")
    assert event["document_id"] == doc_id and event["version"] == 3
    assert event["author_id"] == users["owner"]["user"]["id"]
    assert event["delta"] == [{"retain": 1}, {"insert": "ü"}]
    assert content(server, users, doc_id)["content"] == yjs.content == "aü😀é"
    yjs.close()
    ws.close()


def test_a_delta_past_the_end_is_refused_whole(server: Server, users: dict[str, Any], doc_id: str) -> None:
    ws = json_client(server, users)
    ws_request(ws, {"type": "join_document", "document_id": doc_id})
    ws_request(ws, {"type": "edit_document", "document_id": doc_id, "ops": [{"insert": "😀😀"}]})
    for ops in ([{"delete": 1}, {"insert": "x"}, {"retain": 5}], [{"retain": 1}, {"delete": 2}], [{"nope": 1}],
                "text", []):
        reply = ws_request(ws, {"type": "edit_document", "document_id": doc_id, "ops": ops, "ref": "bad"})
        assert reply["type"] == "error" and reply["error"]["code"] == "BAD_REQUEST" and reply["ref"] == "bad"
    body = content(server, users, doc_id)
    assert body["content"] == "😀😀" and body["version"] == 1
    assert ws_request(ws, {"type": "ping"})["type"] == "pong"  # the socket goes on
    ws.close()


def test_viewer_and_stranger_on_the_json_side(server: Server, users: dict[str, Any], doc_id: str) -> None:
    viewer = json_client(server, users, "viewer")
    assert ws_request(viewer, {"type": "join_document", "document_id": doc_id})["role"] == "viewer"
    reply = ws_request(viewer, {"type": "edit_document", "document_id": doc_id, "ops": [{"insert": "x"}]})
    assert reply["error"]["code"] == "FORBIDDEN"
    stranger = json_client(server, users, "stranger")
    reply = ws_request(stranger, {"type": "join_document", "document_id": doc_id})
    assert reply["error"]["code"] == "NOT_FOUND"
    reply = ws_request(stranger, {"type": "edit_document", "document_id": doc_id, "ops": [{"insert": "x"}]})
    assert reply["error"]["code"] == "BAD_REQUEST"
    assert content(server, users, doc_id)["version"] == 0
    viewer.close(), stranger.close()


def test_presence_reaches_json_and_yjs_peers_and_leaves_with_them(server: Server, users: dict[str, Any],
                                                                  doc_id: str) -> None:
    a, b = json_client(server, users), json_client(server, users, "viewer")
    ws_request(a, {"type": "join_document", "document_id": doc_id})
    ws_request(b, {"type": "join_document", "document_id": doc_id})
    yjs = YjsClient(f"{server.ws_base}/yjs/{doc_id}", users["owner"]["access_token"])
    wait_until(lambda: yjs.synced)
    a.send(json.dumps({"type": "presence", "document_id": doc_id, "state": {"cursor": 4, "typing": True}}))
    event = next_of(b, "document_presence")
    assert event["state"] == {"cursor": 4, "typing": True} and event["user_id"] == users["owner"]["user"]["id"]
    wait_until(lambda: {"cursor": 4, "typing": True} in yjs.remote_states().values(), message="yjs sees presence")
    yjs.set_presence({"name": "y"})
    assert next_of(b, "document_presence")["state"] == {"name": "y"}
    a.send(json.dumps({"type": "leave_document", "document_id": doc_id, "ref": "l"}))
    assert next_of(a, "ack")["ref"] == "l"
    wait_until(lambda: {"cursor": 4, "typing": True} not in yjs.remote_states().values(), message="presence gone")
    yjs.close()
    assert next_of(b, "document_presence")["state"] is None
    a.close(), b.close()


def test_embedded_objects_count_as_one_position_for_json_clients(server: Server, users: dict[str, Any],
                                                                  doc_id: str) -> None:
    """A Yjs client's embed (an image, a mention) is one U+FFFC in the JSON text, so positions agree."""
    yjs = YjsClient(f"{server.ws_base}/yjs/{doc_id}", users["owner"]["access_token"])
    wait_until(lambda: yjs.synced)
    yjs.insert(0, "aé")
    yjs.text.insert_embed(1, {"image": "cat.png"})  # between "a" and "é"
    wait_until(lambda: content(server, users, doc_id)["content"] == "a\ufffcé", message="the embed stored")
    ws = json_client(server, users)
    assert ws_request(ws, {"type": "join_document", "document_id": doc_id})["content"] == "a\ufffcé"
    ack = ws_request(ws, {"type": "edit_document", "document_id": doc_id, "ops": [{"retain": 2}, {"insert": "Z"}]})
    assert ack["type"] == "ack"
    wait_until(lambda: [c for c, _ in yjs.text.diff()] == ["a", {"image": "cat.png"}, "Zé"], message="Z after the embed")
    refused = ws_request(ws, {"type": "edit_document", "document_id": doc_id, "ops": [{"insert": "\ufffc"}]})
    assert refused["error"]["code"] == "BAD_REQUEST"
    yjs.text.insert_embed(0, {"mention": "ana"})
    update = next_of(ws, "document_updated")
    assert update["delta"] == [{"insert": "\ufffc"}]
    yjs.close()
    ws.close()
