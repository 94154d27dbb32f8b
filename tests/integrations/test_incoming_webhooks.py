"""Incoming webhooks: a room admin's secret URL posts into the room as the webhook's bot (JSON, Slack's
text, Slack's form payload), rate limited per webhook, refused once revoked; the secret is kept hashed."""
import hashlib
import json
import sqlite3

import pytest
import requests

from tests.support.harness import POSTGRES_CHAT
from tests.support.chat_helpers import ChatClient, room_with_two_members


SERVER_CONFIG = {
    "chat": {"send_rate": "3", "send_window_s": "60", "max_message_chars": "100"},
}
POSTGRESQL_CONFIG = POSTGRES_CHAT


def make_hook(api, room, name="CI"):
    response = api.post(f"/rooms/{room}/incoming-webhooks", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.engines("sqlite", "postgresql")
def test_a_room_admin_creates_a_webhook_whose_bot_posts_into_the_room(server):
    room, (admin, admin_api), (member, member_api) = room_with_two_members(server)
    watcher = ChatClient(server.ws_base, member)
    watcher.join(room)
    assert member_api.post(f"/rooms/{room}/incoming-webhooks", json={"name": "mine"}).status_code == 403
    hook = make_hook(admin_api, room, "Deploys")
    bot = hook["bot"]
    assert bot["is_bot"] and bot["display_name"] == "Deploys" and bot["username"].endswith("[bot]")
    assert hook["url"] == f"{server.base}/hooks/{hook['id']}/{hook['url'].rsplit('/', 1)[1]}"
    assert watcher.of_type("user_joined")["user"]["id"] == bot["id"]
    posted = requests.post(hook["url"], json={"content": "build 42 passed"})
    assert posted.status_code == 200, posted.text
    message = posted.json()
    assert message["content"] == "build 42 passed" and message["seq"] == 1 and message["user"]["id"] == bot["id"]
    assert watcher.of_type("new_message")["message"] == message
    listed = admin_api.get(f"/rooms/{room}/incoming-webhooks").json()
    assert [h["id"] for h in listed] == [hook["id"]] and "url" not in listed[0]
    assert hook["url"].rsplit("/", 1)[1] not in json.dumps(listed)
    assert member_api.get(f"/rooms/{room}/incoming-webhooks").status_code == 403


def test_slack_payloads_are_accepted(server):
    room, (_, admin_api), _ = room_with_two_members(server)
    hook = make_hook(admin_api, room)
    as_json = requests.post(hook["url"], json={"text": "from slack", "channel": "#ignored", "icon_emoji": ":x:"})
    as_form = requests.post(hook["url"], data={"payload": json.dumps({"text": "from a form"})})
    assert (as_json.status_code, as_form.status_code) == (200, 200), as_form.text
    assert [m["content"] for m in admin_api.get(f"/rooms/{room}/messages").json()["items"]] == \
        ["from slack", "from a form"]
    for bad, status in (({"json": {}}, 400), ({"json": {"text": ""}}, 400), ({"json": {"content": "x" * 101}}, 400),
                        ({"data": {"payload": "not json"}}, 400), ({"data": {"payload": "[1]"}}, 400),
                        ({"data": "plain text", "headers": {"Content-Type": "text/plain"}}, 415)):
        refused = requests.post(hook["url"], **bad)
        assert refused.status_code == status and refused.json()["error"]["code"] == "BAD_REQUEST", bad


def test_username_overrides_the_name_on_that_message_only(server):
    room, (_, admin_api), _ = room_with_two_members(server)
    hook = make_hook(admin_api, room, "Hook")
    named = requests.post(hook["url"], json={"text": "deployed", "username": "Jenkins"}).json()
    plain = requests.post(hook["url"], json={"text": "again"}).json()
    assert named["user"]["display_name"] == "Hook" and "display_name" not in plain
    assert named["display_name"] == "Jenkins"
    assert admin_api.get(f"/messages/{named['id']}").json()["display_name"] == "Jenkins"


@pytest.mark.engines("sqlite", "postgresql")
def test_a_wrong_or_revoked_webhook_is_refused(server):
    room, (admin, admin_api), (member, _) = room_with_two_members(server)
    hook = make_hook(admin_api, room)
    base, secret = hook["url"].rsplit("/", 1)
    for url in (f"{base}/{secret[:-1]}", f"{base}/{secret}x", f"{server.base}/hooks/no-such-hook/{secret}"):
        refused = requests.post(url, json={"text": "hi"})
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "NOT_FOUND"
    assert requests.post(hook["url"], json={"text": "works"}).status_code == 200
    watcher = ChatClient(server.ws_base, member)
    watcher.join(room)
    assert admin_api.delete(f"/rooms/{room}/incoming-webhooks/{hook['id']}").status_code == 204
    assert watcher.of_type("user_left")["user_id"] == hook["bot"]["id"]
    revoked = requests.post(hook["url"], json={"text": "after revoke"})
    assert revoked.status_code == 404 and revoked.json()["error"]["code"] == "NOT_FOUND"
    assert admin_api.get(f"/rooms/{room}/incoming-webhooks").json() == []
    assert admin_api.delete(f"/rooms/{room}/incoming-webhooks/{hook['id']}").status_code == 404
    contents = [m["content"] for m in admin_api.get(f"/rooms/{room}/messages").json()["items"]]
    assert contents == ["works"]
    members = {m["user"]["id"] for m in admin_api.get(f"/rooms/{room}/members").json()["items"]}
    assert hook["bot"]["id"] not in members


def test_each_webhook_has_its_own_rate_limit(server):
    room, (_, admin_api), _ = room_with_two_members(server)
    busy, quiet = make_hook(admin_api, room, "busy"), make_hook(admin_api, room, "quiet")
    posts = [requests.post(busy["url"], json={"text": f"n{i}", "client_msg_id": f"k{i}"}) for i in range(3)]
    assert [p.status_code for p in posts] == [200] * 3
    limited = requests.post(busy["url"], json={"text": "one too many"})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert requests.post(quiet["url"], json={"text": "still fine"}).status_code == 200
    retried = requests.post(busy["url"], json={"text": "n0", "client_msg_id": "k0"})  # a retry costs nothing
    assert retried.status_code == 200 and retried.json()["id"] == posts[0].json()["id"]
    assert len(admin_api.get(f"/rooms/{room}/messages").json()["items"]) == 4


@pytest.mark.engines("sqlite", "postgresql")
def test_a_retry_with_the_same_client_msg_id_posts_once(server):
    room, (_, admin_api), _ = room_with_two_members(server)
    hook = make_hook(admin_api, room)
    first = requests.post(hook["url"], json={"text": "once", "client_msg_id": "build-7"}).json()
    again = requests.post(hook["url"], json={"text": "once", "client_msg_id": "build-7"}).json()
    assert first["id"] == again["id"]
    assert len(admin_api.get(f"/rooms/{room}/messages").json()["items"]) == 1


def test_the_secret_is_stored_only_as_its_hash(server):
    room, (_, admin_api), _ = room_with_two_members(server)
    hook = make_hook(admin_api, room)
    secret = hook["url"].rsplit("/", 1)[1]
    data_dir = server.confab.services.config.data_path
    with sqlite3.connect(data_dir / "confab.db") as db:
        stored = db.execute("SELECT secret_hash FROM incoming_webhook WHERE id = ?", (hook["id"],)).fetchone()[0]
    assert stored == hashlib.sha256(secret.encode()).hexdigest()
    for path in data_dir.glob("confab.db*"):
        assert secret.encode() not in path.read_bytes(), path


def test_the_hook_route_is_public_in_the_openapi_contract(server):
    spec = requests.get(f"{server.base}/api/v1/openapi.json").json()
    assert spec["paths"]["/hooks/{webhook_id}/{secret}"]["post"]["security"] == []
    assert "post" in spec["paths"]["/api/v1/rooms/{room_id}/incoming-webhooks"]
