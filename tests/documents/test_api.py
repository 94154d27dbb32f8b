"""REST for documents: roles, no existence leak, paging, history, versions, shares; live sockets follow."""
from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from tests.support.harness import Server, bearer, close_code, connect_ws, ws_request
from tests.support.harness import register as register_user
from tests.support.yjs_client import YjsClient, wait_until


@pytest.fixture(scope="module")
def users(server: Server) -> dict[str, Any]:
    return {name: register_user(server.base) for name in ("owner", "editor", "viewer", "stranger")}


def call(server: Server, users: dict[str, Any], who: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, f"{server.base}/api/v1/documents{path}",
                            headers=bearer(users[who]["access_token"]), **kwargs)


def shared_document(server: Server, users: dict[str, Any]) -> str:
    doc = call(server, users, "owner", "POST", "", json={"title": "Plan"})
    assert doc.status_code == 201
    body = doc.json()
    assert body["title"] == "Plan" and body["version"] == 0 and body["owner_id"] == users["owner"]["user"]["id"]
    for who in ("editor", "viewer"):
        share = call(server, users, "owner", "POST", f"/{body['id']}/shares",
                     json={"username": users[who]["user"]["username"], "role": who})
        assert share.status_code == 201 and share.json()["role"] == who
    return body["id"]


def test_roles_and_no_existence_leak(server: Server, users: dict[str, Any]) -> None:
    doc = shared_document(server, users)
    for who in ("owner", "editor", "viewer"):
        got = call(server, users, who, "GET", f"/{doc}")
        assert got.status_code == 200 and got.json()["content"] == "" and got.json()["role"] == who
    missing = "00000000-0000-0000-0000-000000000000"
    for method, path, body in (("GET", f"/{doc}", None), ("PATCH", f"/{doc}", {"title": "x"}),
                               ("DELETE", f"/{doc}", None), ("GET", f"/{doc}/history", None),
                               ("GET", f"/{doc}/versions/0", None), ("POST", f"/{doc}/shares",
                                                                      {"username": "x", "role": "viewer"})):
        stranger = call(server, users, "stranger", method, path, json=body)
        assert stranger.status_code == 404 and stranger.json()["error"]["code"] == "NOT_FOUND"
        nothing = call(server, users, "stranger", method, path.replace(doc, missing), json=body)
        assert nothing.json()["error"] == {**stranger.json()["error"], "request_id": nothing.json()["error"]["request_id"]}
    assert call(server, users, "viewer", "PATCH", f"/{doc}", json={"title": "x"}).status_code == 403
    assert call(server, users, "editor", "PATCH", f"/{doc}", json={"title": "Renamed"}).json()["title"] == "Renamed"
    assert call(server, users, "editor", "DELETE", f"/{doc}").status_code == 403
    assert call(server, users, "editor", "POST", f"/{doc}/shares",
                json={"username": users["stranger"]["user"]["username"], "role": "editor"}).status_code == 403
    bad = call(server, users, "owner", "POST", f"/{doc}/shares", json={"username": "x", "role": "owner"})
    assert bad.status_code == 400 and "role" in bad.json()["error"]["details"]["fields"]
    assert call(server, users, "owner", "POST", "", json={"title": ""}).status_code == 400


def test_list_is_owned_plus_shared_and_pages_with_a_cursor(server: Server, users: dict[str, Any]) -> None:
    fresh = {"a": register_user(server.base), "b": register_user(server.base)}
    mine = [call(server, fresh, "a", "POST", "", json={"title": f"a{i}"}).json()["id"] for i in range(3)]
    theirs = call(server, fresh, "b", "POST", "", json={"title": "b0"}).json()["id"]
    call(server, fresh, "b", "POST", f"/{theirs}/shares", json={"user_id": fresh["a"]["user"]["id"], "role": "viewer"})
    call(server, fresh, "b", "POST", "", json={"title": "hidden"})
    seen, cursor = [], None
    while True:
        page = call(server, fresh, "a", "GET", "", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [(item["id"], item["role"]) for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted([*((m, "owner") for m in mine), (theirs, "viewer")])
    assert call(server, fresh, "a", "GET", "", params={"cursor": "garbage"}).status_code == 400


def test_history_and_content_at_a_version(server: Server, users: dict[str, Any]) -> None:
    doc = shared_document(server, users)
    ws = connect_ws(f"{server.ws_base}/ws", users["editor"]["access_token"])
    ws_request(ws, {"type": "join_document", "document_id": doc})
    texts = []
    for word in ("one", " two", " three"):
        ws_request(ws, {"type": "edit_document", "document_id": doc, "ops": [{"retain": len("".join(texts))} if texts
                                                                              else {"insert": word}] +
                        ([{"insert": word}] if texts else [])})
        texts.append(word)
    ws.close()
    history = call(server, users, "viewer", "GET", f"/{doc}/history", params={"limit": 2}).json()
    assert [item["version"] for item in history["items"]] == [3, 2]
    assert history["items"][0]["author_id"] == users["editor"]["user"]["id"] and history["items"][0]["size"] > 0
    older = call(server, users, "viewer", "GET", f"/{doc}/history", params={"before": history["next_cursor"]}).json()
    assert [item["version"] for item in older["items"]] == [1] and older["next_cursor"] is None
    for version, expected in ((0, ""), (1, "one"), (2, "one two"), (3, "one two three")):
        got = call(server, users, "viewer", "GET", f"/{doc}/versions/{version}").json()
        assert got["content"] == expected and got["version"] == version
    assert call(server, users, "viewer", "GET", f"/{doc}/versions/4").status_code == 404


def test_revoking_a_share_closes_that_users_sockets_within_a_second(server: Server, users: dict[str, Any]) -> None:
    doc = shared_document(server, users)
    editor = YjsClient(f"{server.ws_base}/yjs/{doc}", users["editor"]["access_token"])
    owner = YjsClient(f"{server.ws_base}/yjs/{doc}", users["owner"]["access_token"])
    json_ws = connect_ws(f"{server.ws_base}/ws", users["editor"]["access_token"])
    ws_request(json_ws, {"type": "join_document", "document_id": doc})
    wait_until(lambda: editor.synced and owner.synced)
    editor._reader.kill()
    started = time.monotonic()
    assert call(server, users, "owner", "DELETE", f"/{doc}/shares/{users['editor']['user']['id']}").status_code == 204
    assert close_code(editor.ws, timeout=1.0) == 1008
    notice = ws_request(json_ws, {"type": "edit_document", "document_id": doc, "ops": [{"insert": "x"}]})
    assert notice["type"] == "error" and notice["error"]["code"] == "NOT_FOUND"
    assert time.monotonic() - started < 1.0
    reply = ws_request(json_ws, {"type": "edit_document", "document_id": doc, "ops": [{"insert": "x"}]})
    assert reply["error"]["code"] in ("BAD_REQUEST", "NOT_FOUND")
    assert call(server, users, "editor", "GET", f"/{doc}").status_code == 404
    owner.insert(0, "still works")
    wait_until(lambda: call(server, users, "owner", "GET", f"/{doc}").json()["content"] == "still works")
    owner._reader.kill()
    assert call(server, users, "owner", "DELETE", f"/{doc}").status_code == 204
    assert close_code(owner.ws, timeout=1.0) == 1008
    assert call(server, users, "owner", "GET", f"/{doc}").status_code == 404
    json_ws.close()


def test_restore_applies_the_difference_so_reconnecting_clients_never_duplicate(server: Server,
                                                                                users: dict[str, Any]) -> None:
    doc = shared_document(server, users)
    peer = YjsClient(f"{server.ws_base}/yjs/{doc}", users["editor"]["access_token"])
    wait_until(lambda: peer.synced)
    peer.insert(0, "keep ")
    wait_until(lambda: call(server, users, "owner", "GET", f"/{doc}").json()["version"] == 1)
    peer.insert(5, "draft é😀")
    wait_until(lambda: call(server, users, "owner", "GET", f"/{doc}").json()["version"] == 2)
    peer.close()  # offline, keeping its local CRDT state
    assert call(server, users, "viewer", "POST", f"/{doc}/versions/1/restore").status_code == 403
    restored = call(server, users, "owner", "POST", f"/{doc}/versions/1/restore")
    assert restored.status_code == 200 and restored.json()["content"] == "keep " and restored.json()["version"] == 3
    peer.synced = False
    peer.connect()  # reconnects with its old state: merging must not bring the text back twice
    wait_until(lambda: peer.synced and peer.content == "keep ", message="merged without duplication")
    assert call(server, users, "owner", "GET", f"/{doc}").json()["content"] == "keep "
    peer.close()
