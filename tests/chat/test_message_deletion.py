"""Deleting a message takes its files and words away, over real HTTP and /ws: the attachment list is
emptied, the room's members can no longer download the files (unless another message there still
carries them; the uploader always can), and its notifications' snippets are blanked. An edit rewrites
the snippets. On SQLite and PostgreSQL."""
import pytest
import requests

from tests.support.harness import bearer
from tests.support.chat_helpers import ChatClient, room_with_two_members
from tests.files.test_files import said_with, uploaded


pytestmark = pytest.mark.engines("sqlite", "postgresql")
SERVER_CONFIG = {"chat": {"send_rate": "100"}}


def _download(server, login, file_id):
    return requests.get(f"{server.base}/files/{file_id}", headers=bearer(login["access_token"])).status_code


def _snippets(api):
    return [n["snippet"] for n in api.get("/notifications").json()["items"]]


def test_delete_clears_attachments_shares_and_snippets_and_an_edit_rewrites_them(server):
    room, (alice, alice_api), (bob, bob_api) = room_with_two_members(server)
    kept = uploaded(server, alice, "kept.txt", b"still carried by another message", "text/plain")
    gone = uploaded(server, alice, "gone.txt", b"only in the deleted message", "text/plain")
    client = ChatClient(server.ws_base, alice)
    try:
        client.join(room)
        name = bob["user"]["username"]
        message = client.say(room, f"@{name} the secret plan", attachments=[kept["file_id"], gone["file_id"]])
        client.say(room, "the other one", attachments=[kept["file_id"]])
        assert [_download(server, bob, f["file_id"]) for f in (kept, gone)] == [200, 200]
        assert _snippets(bob_api) == [f"@{name} the secret plan"]

        edited = client.request({"type": "edit_message", "message_id": message["id"], "new_content": f"@{name} hi"})
        assert edited["type"] == "ack"
        assert _snippets(bob_api) == [f"@{name} hi"]

        deleted = client.request({"type": "delete_message", "message_id": message["id"]})
        assert deleted["type"] == "ack" and deleted["message"]["attachments"] == []
    finally:
        client.close()
    history = bob_api.get(f"/rooms/{room}/messages").json()["items"]
    assert [m["attachments"] for m in history if m["id"] == message["id"]] == [[]]
    assert _download(server, bob, gone["file_id"]) == 404
    assert _download(server, bob, kept["file_id"]) == 200  # the other message still carries it
    assert _download(server, alice, gone["file_id"]) == 200  # the uploader keeps her own file
    assert _snippets(bob_api) == [""]


def test_a_moderator_deleting_someone_elses_message_over_rest_does_the_same(server):
    room, (alice, alice_api), (bob, bob_api) = room_with_two_members(server)
    shared = uploaded(server, bob, "bob.txt", b"bob's file", "text/plain")
    message = said_with(server, bob, room, f"look @{alice['user']['username']}", shared["file_id"])
    assert _download(server, alice, shared["file_id"]) == 200
    assert alice_api.delete(f"/messages/{message['id']}").status_code in (200, 204)
    assert _download(server, alice, shared["file_id"]) == 404
    assert _snippets(alice_api) == [""]
