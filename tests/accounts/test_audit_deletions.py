"""Deletions in the audit log (issue 16), over real HTTP and /ws on both engines: a room's deletion, a
document's, and a moderator's deletion of someone else's message (REST and /ws alike) are recorded with
who did it and from where; an author deleting their own message is not, nor is deleting one twice."""
from __future__ import annotations

from typing import Any

import pytest

from tests.support.chat_helpers import Api, ChatClient, new_room, room_with_two_members
from tests.support.harness import Server, register

pytestmark = pytest.mark.engines("sqlite", "postgresql")


@pytest.fixture(scope="module")
def admin(server: Server) -> Api:
    first = register(server.base)  # the first account of the server
    assert first["user"]["is_server_admin"] is True
    return Api(server.base, first)


def events(admin: Api, action: str) -> list[dict[str, Any]]:
    response = admin.get("/admin/audit", params={"action": action, "limit": 200})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_deleting_a_room_is_audited_with_its_name_and_member_count(server: Server, admin: Api) -> None:
    room, (alice, alice_api), _bob = room_with_two_members(server)
    assert alice_api.delete(f"/rooms/{room}").status_code == 204
    [event] = [e for e in events(admin, "room.deleted") if e["target_id"] == room]
    assert event["actor_id"] == alice["user"]["id"] and event["detail"] == {"name": "general", "members": 2}
    assert event["client_ip"] == "127.0.0.1" and event["request_id"]


def test_a_refused_room_deletion_is_not_audited(server: Server, admin: Api) -> None:
    room, _alice, (_bob, bob_api) = room_with_two_members(server)
    assert bob_api.delete(f"/rooms/{room}").status_code == 403
    assert [e for e in events(admin, "room.deleted") if e["target_id"] == room] == []


def test_deleting_a_document_is_audited_with_its_title(server: Server, admin: Api) -> None:
    owner = register(server.base)
    api = Api(server.base, owner)
    document = api.post("/documents", json={"title": "Quarterly plan"}).json()
    assert api.delete(f"/documents/{document['id']}").status_code == 204
    [event] = [e for e in events(admin, "document.deleted") if e["target_id"] == document["id"]]
    assert event["actor_id"] == owner["user"]["id"] and event["detail"] == {"title": "Quarterly plan"}


def test_a_moderators_deletion_of_someone_elses_message_is_audited_over_rest_and_ws(
        server: Server, admin: Api) -> None:
    room, (alice, alice_api), (bob, _bob_api) = room_with_two_members(server)  # alice created it: room admin
    alice_ws, bob_ws = ChatClient(server.ws_base, alice), ChatClient(server.ws_base, bob)
    try:
        for client in (alice_ws, bob_ws):
            client.join(room)
        by_rest, by_ws, own = (bob_ws.say(room, f"message {n}") for n in range(3))
        assert alice_api.delete(f"/messages/{by_rest['id']}").status_code == 200
        assert alice_api.delete(f"/messages/{by_rest['id']}").status_code == 200  # again: nothing changes
        assert alice_ws.request({"type": "delete_message", "message_id": by_ws["id"]})["type"] == "ack"
        assert bob_ws.request({"type": "delete_message", "message_id": own["id"]})["type"] == "ack"
    finally:
        alice_ws.close()
        bob_ws.close()
    ours = {by_rest["id"], by_ws["id"], own["id"]}
    audited = [e for e in events(admin, "message.deleted") if e["target_id"] in ours]
    assert [e["target_id"] for e in reversed(audited)] == [by_rest["id"], by_ws["id"]]
    for event in audited:
        assert event["actor_id"] == alice["user"]["id"]
        assert event["detail"] == {"room_id": room, "author_id": bob["user"]["id"]}
        assert event["client_ip"] == "127.0.0.1" and event["request_id"]


def test_an_authors_own_deletion_over_rest_is_not_audited(server: Server, admin: Api) -> None:
    author = register(server.base)
    api = Api(server.base, author)
    room = new_room(api, name="mine")
    said = api.post(f"/rooms/{room}/messages", json={"content": "oops"}).json()
    assert api.delete(f"/messages/{said['id']}").status_code == 200
    assert [e for e in events(admin, "message.deleted") if e["target_id"] == said["id"]] == []
