"""Account deletion by the user and the export of their own data (issue 16, item 1) over real HTTP and
sockets: the password is required; messages stay, shown as by "deleted user"; owned documents go to the
named heir or are deleted; sockets close; the name and address are free again; the export holds the
user's data and no secret."""
from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tests.support.harness import Server, bearer, close_code, connect_ws, register
from tests.support.chat_helpers import Api, new_room, user

PASSWORD = "correct horse"


pytestmark = pytest.mark.engines("sqlite", "postgresql")
SERVER_CONFIG = {"chat": {"send_rate": "100"}}


@pytest.fixture(scope="module", autouse=True)
def admin(server: Server) -> dict[str, Any]:
    """The server's first account, its admin: the users these tests delete are ordinary ones."""
    return register(server.base)


def delete_account(api: Api, **body: Any) -> requests.Response:
    return api.post("/users/me/deletion", json={"password": PASSWORD, **body})


def new_document(api: Api, title: str) -> str:
    response = api.post("/documents", json={"title": title})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_a_deleted_account_leaves_its_messages_as_deleted_user_and_hands_over_documents(server: Server) -> None:
    (leaver, leaver_api), (heir, heir_api) = user(server), user(server)
    room = new_room(heir_api, name="team")
    assert leaver_api.post(f"/rooms/{room}/join").status_code == 200
    said = leaver_api.post(f"/rooms/{room}/messages", json={"content": "my last words"})
    assert said.status_code in (200, 201), said.text
    document = new_document(leaver_api, "plans")
    socket = connect_ws(f"{server.ws_base}/ws", leaver["access_token"])
    key = leaver_api.post("/api-keys", json={"name": "k"}).json()["key"]
    assert delete_account(leaver_api, documents="transfer", transfer_to=heir["user"]["username"]).status_code == 204
    assert close_code(socket) == 1008
    for credential in (leaver["access_token"], key):
        assert requests.get(f"{server.base}/api/v1/auth/me", headers=bearer(credential)).status_code == 401
    login = requests.post(f"{server.base}/api/v1/auth/login",
                          json={"username": leaver["user"]["username"], "password": PASSWORD})
    assert login.status_code == 401
    history = heir_api.get(f"/rooms/{room}/messages").json()["items"]
    last = next(m for m in history if m["content"] == "my last words")
    assert last["user"]["display_name"] == "deleted user" and last["user"]["id"] == leaver["user"]["id"]
    owned = heir_api.get(f"/documents/{document}").json()
    assert owned["owner_id"] == heir["user"]["id"] and owned["role"] == "owner"
    members = {m["user"]["id"] for m in heir_api.get(f"/rooms/{room}/members").json()["items"]}
    assert leaver["user"]["id"] not in members
    again = register(server.base, leaver["user"]["username"])  # the name and the address are free again
    assert again["user"]["id"] != leaver["user"]["id"]


def test_deleting_can_delete_the_documents_and_needs_the_password(server: Server) -> None:
    (leaver, leaver_api), (other, other_api) = user(server), user(server)
    document = new_document(leaver_api, "drafts")
    assert leaver_api.post(f"/documents/{document}/shares",
                           json={"username": other["user"]["username"], "role": "editor"}).status_code == 201
    wrong = leaver_api.post("/users/me/deletion", json={"password": "not my password", "documents": "delete"})
    assert wrong.status_code == 403 and wrong.json()["error"]["details"]["fields"] == {"password": ["wrong password"]}
    nobody = delete_account(leaver_api, documents="transfer", transfer_to=leaver["user"]["username"])
    assert nobody.status_code == 400 and "transfer_to" in nobody.json()["error"]["details"]["fields"]
    assert other_api.get(f"/documents/{document}").status_code == 200  # nothing changed so far
    assert delete_account(leaver_api, documents="delete").status_code == 204
    assert other_api.get(f"/documents/{document}").status_code == 404


def test_the_export_holds_the_users_data_and_no_secret(server: Server) -> None:
    (me, api), (_, other_api) = user(server), user(server)
    room = new_room(other_api, name="lounge")
    assert api.post(f"/rooms/{room}/join").status_code == 200
    api.post(f"/rooms/{room}/messages", json={"content": "exported words"})
    new_document(api, "notes")
    key = api.post("/api-keys", json={"name": "ci"}).json()
    api.put("/users/me", json={"status_text": "exporting"})
    response = api.get("/users/me/export")
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["user"]["id"] == me["user"]["id"] and data["user"]["status_text"] == "exporting"
    assert [m["content"] for m in data["messages"]] == ["exported words"]
    assert [r["id"] for r in data["rooms"]] == [room]
    assert [d["title"] for d in data["documents"]] == ["notes"]
    assert [k["name"] for k in data["api_keys"]] == ["ci"]
    text = json.dumps(data)
    for secret in (PASSWORD, key["key"], me["access_token"], me["refresh_token"], "argon2"):
        assert secret not in text
