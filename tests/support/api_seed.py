"""Real data for a fuzzer to aim at: two users, rooms with messages, a thread, a notification, a shared
file with a thumbnail, documents with versions and a share, a webhook and an API key, all made over the
public API of a running server. Destructive operations get their own copies ("victims"), so deleting
a room or leaving it does not turn every later request about the main one into a 403 or a 404."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.support.harness import connect_ws, ws_request
from tests.files.test_files import png
from tests.support.chat_helpers import ChatClient, new_room, user


@dataclass
class Seeded:
    token: str
    user_id: str
    other_user_id: str
    #: parameter name → ids that exist and that the token's user may use
    ids: dict[str, list[str | int]] = field(default_factory=dict)
    #: parameter name → ids reserved for the operations that destroy them
    victims: dict[str, list[str]] = field(default_factory=dict)


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return response.json()


def seed(server: Any, victims: int = 3) -> Seeded:
    """Everything above, owned by a fresh user whose token the fuzzer uses."""
    (ana, api), (bob, bob_api) = user(server), user(server)
    rooms = [new_room(api, name=f"room {i}") for i in range(1 + 2 * victims)]
    main_room, delete_rooms, leave_rooms = rooms[0], rooms[1:1 + victims], rooms[1 + victims:]
    for room in rooms:
        _created(bob_api.post(f"/rooms/{room}/join"))
    file = _created(api.post("/upload", files={"file": ("teal.png", png(64, 48, "teal"), "image/png")}))
    messages = _chat(server, ana, bob, main_room, file["file_id"], victims)
    documents = [_created(api.post("/documents", json={"title": f"doc {i}"}))["id"] for i in range(1 + victims)]
    _edit(server, ana["access_token"], documents[0])
    _created(api.post(f"/documents/{documents[0]}/shares", json={"user_id": bob["user"]["id"], "role": "editor"}))
    hook = _created(api.post("/webhooks", json={"url": "http://127.0.0.1:9/confab", "events": ["message.created"]}))
    key = _created(api.post("/api-keys", json={"name": "fuzz"}))
    notification = _created(api.get("/notifications"))["items"][0]["id"]
    dm = _created(api.post(f"/dms/{bob['user']['id']}"))["id"]
    return Seeded(
        token=ana["access_token"], user_id=ana["user"]["id"], other_user_id=bob["user"]["id"],
        ids={"room_id": [main_room, dm], "message_id": messages["kept"], "document_id": documents[:1],
             "file_id": [file["file_id"]], "webhook_id": [hook["id"]], "key_id": [key["id"]],
             "notification_id": [notification], "user_id": [bob["user"]["id"]], "version": [1, 2]},
        victims={"room_id": delete_rooms, "leave_room_id": leave_rooms, "message_id": messages["victims"],
                 "document_id": documents[1:]})


def _chat(server: Any, ana: dict[str, Any], bob: dict[str, Any], room: str, file_id: str,
          victims: int) -> dict[str, list[str]]:
    """A message with the file, a reply (a thread), bob's mention of ana (a notification), and victims."""
    ana_ws, bob_ws = ChatClient(server.ws_base, ana), ChatClient(server.ws_base, bob)
    try:
        ana_ws.join(room)
        bob_ws.join(room)
        first = ana_ws.say(room, "hello, with a picture", attachments=[file_id])
        reply = bob_ws.say(room, f"@{ana['user']['username']} nice", reply_to_id=first["id"])
        doomed = [ana_ws.say(room, f"to delete {i}")["id"] for i in range(victims)]
        return {"kept": [first["id"], reply["id"]], "victims": doomed}
    finally:
        ana_ws.close()
        bob_ws.close()


def _edit(server: Any, token: str, document_id: str) -> None:
    """Two versions, so that /versions/{v} and the history have something to show."""
    ws = connect_ws(f"{server.ws_base}/ws", token)
    try:
        assert ws_request(ws, {"type": "join_document", "document_id": document_id})["type"] == "ack"
        for ops in ([{"insert": "hello"}], [{"retain": 5}, {"insert": " world"}]):
            assert ws_request(ws, {"type": "edit_document", "document_id": document_id, "ops": ops})["type"] == "ack"
    finally:
        ws.close()

