"""Chat over REST: rooms and roles, invitations, DMs, history both ways, threads, read state, room list."""
import gevent
import pytest

from tests.support.harness import POSTGRES_CHAT
from tests.support.chat_helpers import ChatClient, new_room, room_with_two_members, user


SERVER_CONFIG = {"chat": {"send_rate": "100"}}
POSTGRESQL_CONFIG = POSTGRES_CHAT


def fill(client, room, count, prefix="m"):
    return [client.say(room, f"{prefix}{i}") for i in range(count)]


def test_room_crud_and_roles(server):
    (a_login, a_api), (b_login, b_api) = user(server), user(server)
    created = a_api.post("/rooms", json={"name": "ops", "description": "on call", "is_private": False})
    assert created.status_code == 201
    room = created.json()
    assert room["role"] == "admin" and room["last_seq"] == 0 and room["kind"] == "channel"
    assert a_api.post("/rooms", json={"name": ""}).json()["error"]["code"] == "BAD_REQUEST"
    assert a_api.post("/rooms", json={"is_private": "maybe"}).status_code == 400
    assert b_api.get(f"/rooms/{room['id']}").json()["role"] is None  # public: visible, not a member
    assert b_api.put(f"/rooms/{room['id']}", json={"name": "mine"}).status_code == 403
    assert b_api.post(f"/rooms/{room['id']}/join").json()["role"] == "member"
    assert b_api.post(f"/rooms/{room['id']}/join").status_code == 200  # idempotent
    assert b_api.put(f"/rooms/{room['id']}", json={"name": "mine"}).status_code == 403
    updated = a_api.put(f"/rooms/{room['id']}", json={"name": "ops-2"})
    assert updated.status_code == 200 and updated.json()["name"] == "ops-2"
    assert a_api.put(f"/rooms/{room['id']}", json={}).status_code == 400
    members = a_api.get(f"/rooms/{room['id']}/members").json()["items"]
    assert {(m["user"]["id"], m["role"]) for m in members} == {(a_login["user"]["id"], "admin"),
                                                                (b_login["user"]["id"], "member")}
    assert b_api.post(f"/rooms/{room['id']}/leave").status_code == 204
    assert b_api.get(f"/rooms/{room['id']}/messages").status_code == 403
    public = [r["id"] for r in b_api.get("/rooms", params={"scope": "public", "limit": 200}).json()["items"]]
    assert room["id"] in public
    assert a_api.get("/rooms/not-a-room").status_code == 404


def test_private_rooms_by_invitation_only(server):
    (a_login, a_api), (b_login, b_api), (c_login, c_api) = user(server), user(server), user(server)
    room = new_room(a_api, private=True)
    assert b_api.post(f"/rooms/{room}/join").status_code == 404
    assert room not in [r["id"] for r in b_api.get("/rooms", params={"scope": "public"}).json()["items"]]
    invited = a_api.post(f"/rooms/{room}/members", json={"username": b_login["user"]["username"]})
    assert invited.status_code == 201 and invited.json()["role"] == "member"
    assert b_api.get(f"/rooms/{room}").json()["role"] == "member"
    # a plain member may not invite to a private room; a moderator may, but not grant roles
    assert b_api.post(f"/rooms/{room}/members", json={"user_id": c_login["user"]["id"]}).status_code == 403
    promoted = a_api.post(f"/rooms/{room}/members", json={"user_id": b_login["user"]["id"], "role": "moderator"})
    assert promoted.json()["role"] == "moderator"
    assert b_api.post(f"/rooms/{room}/members",
                      json={"user_id": c_login["user"]["id"], "role": "admin"}).status_code == 403
    assert b_api.post(f"/rooms/{room}/members", json={"user_id": c_login["user"]["id"]}).status_code == 201
    assert a_api.post(f"/rooms/{room}/members", json={"user_id": "nobody"}).status_code == 404
    assert c_api.get(f"/rooms/{room}/messages").status_code == 200


@pytest.mark.engines("sqlite", "postgresql")
def test_direct_messages_are_get_or_create_and_idempotent(server):
    (a_login, a_api), (b_login, b_api) = user(server), user(server)
    b_id = b_login["user"]["id"]
    racers = [gevent.spawn(a_api.post, f"/dms/{b_id}") for _ in range(4)]
    responses = [g.get() for g in racers]
    assert {r.json()["id"] for r in responses} | {b_api.post(f"/dms/{a_login['user']['id']}").json()["id"]} == \
        {responses[0].json()["id"]}
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 201]
    dm = responses[0].json()
    assert dm["kind"] == "dm" and dm["is_private"]
    assert [r["id"] for r in b_api.get("/dms").json()["items"]] == [dm["id"]]
    assert a_api.post(f"/dms/{a_login['user']['id']}").status_code == 400
    assert a_api.post("/dms/no-such-user").status_code == 404
    client = ChatClient(server.ws_base, b_login)
    client.join(dm["id"])
    assert client.say(dm["id"], "psst")["seq"] == 1
    client.close()
    _, c_api = user(server)
    assert c_api.get(f"/rooms/{dm['id']}/messages").status_code == 404
    assert c_api.post(f"/rooms/{dm['id']}/join").status_code == 404


@pytest.mark.engines("sqlite", "postgresql")
def test_history_pages_both_ways_by_seq(server):
    login, api = user(server)
    room = new_room(api)
    client = ChatClient(server.ws_base, login)
    fill(client, room, 12)
    client.close()
    newest = api.get(f"/rooms/{room}/messages", params={"limit": 5}).json()
    assert [m["seq"] for m in newest["items"]] == [8, 9, 10, 11, 12]
    older = api.get(f"/rooms/{room}/messages", params={"limit": 5, "cursor": newest["next_cursor"]}).json()
    assert [m["seq"] for m in older["items"]] == [3, 4, 5, 6, 7]
    assert [m["seq"] for m in api.get(f"/rooms/{room}/messages", params={"before_seq": 3}).json()["items"]] == [1, 2]
    forward = api.get(f"/rooms/{room}/messages", params={"after_seq": 4, "limit": 4}).json()
    assert [m["seq"] for m in forward["items"]] == [5, 6, 7, 8]
    rest = api.get(f"/rooms/{room}/messages", params={"cursor": forward["next_cursor"]}).json()
    assert [m["seq"] for m in rest["items"]] == [9, 10, 11, 12] and rest["next_cursor"] is None
    assert api.get(f"/rooms/{room}/messages", params={"limit": 500}).status_code == 400
    assert api.get(f"/rooms/{room}/messages", params={"cursor": "garbage!"}).status_code == 400


@pytest.mark.engines("sqlite", "postgresql")
def test_threads_and_message_rest_writes(server):
    room, (a_login, a_api), (b_login, b_api) = room_with_two_members(server)
    a, b = ChatClient(server.ws_base, a_login), ChatClient(server.ws_base, b_login)
    a.join(room)
    root = a.say(room, "question")
    reply = b.say(room, "answer", reply_to_id=root["id"])
    nested = a.say(room, "follow-up", reply_to_id=reply["id"])
    a.say(room, "unrelated")
    assert reply["thread_root_id"] == root["id"] and nested["thread_root_id"] == root["id"]
    thread = a_api.get(f"/messages/{nested['id']}/thread").json()["items"]
    assert [m["content"] for m in thread] == ["question", "answer", "follow-up"]
    bad = a.request({"type": "send_message", "room_id": room, "content": "x", "client_msg_id": "bad",
                     "reply_to_id": "no-such-message"})
    assert bad["error"]["code"] == "NOT_FOUND"
    edited = b_api.put(f"/messages/{reply['id']}", json={"content": "better answer"})
    assert edited.status_code == 200 and edited.json()["is_edited"]
    assert a.of_type("message_edited")["new_content"] == "better answer"
    assert a_api.put(f"/messages/{reply['id']}", json={"content": "hijack"}).status_code == 403
    assert b_api.post(f"/messages/{root['id']}/reactions", json={"emoji": "🎉"}).json()["reactions"] == \
        {"🎉": [b_login["user"]["id"]]}
    assert a.of_type("reaction_added")["emoji"] == "🎉"
    assert b_api.delete(f"/messages/{root['id']}/reactions", json={"emoji": "🎉"}).json()["reactions"] == {}
    assert b_api.delete(f"/messages/{root['id']}").status_code == 403  # not the author, not a moderator
    assert a_api.delete(f"/messages/{root['id']}").json()["is_deleted"] is True
    a.close()
    b.close()


@pytest.mark.engines("sqlite", "postgresql")
def test_read_state_unread_counts_and_room_list_by_activity(server):
    (a_login, a_api), (b_login, b_api) = user(server), user(server)
    quiet, busy = new_room(a_api, name="quiet"), new_room(a_api, name="busy")
    for room in (quiet, busy):
        b_api.post(f"/rooms/{room}/join")
    a, b = ChatClient(server.ws_base, a_login), ChatClient(server.ws_base, b_login)
    a.join(busy)
    a.say(quiet, "first")
    fill(b, busy, 3)
    listed = a_api.get("/rooms").json()["items"]
    assert [r["id"] for r in listed[:2]] == [busy, quiet]
    by_id = {r["id"]: r for r in listed}
    assert by_id[busy]["unread_count"] == 3 and by_id[quiet]["unread_count"] == 0  # own messages are read
    last = by_id[busy]["last_message"]
    assert last["seq"] == 3 and last["snippet"] == "m2" and last["user"]["id"] == b_login["user"]["id"]
    b.join(busy)
    receipt = a.request({"type": "read", "room_id": busy, "seq": 2})
    assert receipt == {"type": "ack", "ref": receipt["ref"], "room_id": busy, "seq": 2}
    told = b.of_type("read_receipt")
    assert told == {"type": "read_receipt", "room_id": busy, "user_id": a_login["user"]["id"], "seq": 2}
    assert {r["id"]: r for r in a_api.get("/rooms").json()["items"]}[busy]["unread_count"] == 1
    assert a_api.post(f"/rooms/{busy}/read", json={"seq": 99}).json() == {"room_id": busy, "seq": 3}
    assert a_api.post(f"/rooms/{busy}/read", json={"seq": 1}).json()["seq"] == 3  # never moves back
    assert {r["id"]: r for r in a_api.get("/rooms").json()["items"]}[busy]["unread_count"] == 0
    b.say(quiet, "bump")
    assert a_api.get("/rooms").json()["items"][0]["id"] == quiet
    page = a_api.get("/rooms", params={"limit": 1}).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    assert a_api.get("/rooms", params={"limit": 1, "cursor": page["next_cursor"]}).json()["items"][0]["id"] == busy
    a.close()
    b.close()


@pytest.mark.parametrize("path", ["/rooms", "/rooms?scope=public", "/dms", "/rooms/{room}/members",
                                  "/rooms/{room}/messages", "/users?q=a", "/users/online", "/notifications",
                                  "/documents", "/search/messages?q=a"])
def test_a_cursor_the_server_did_not_write_is_one_400_on_every_list(server, path):
    """Cursors are read in the web layer only, each list with its own shape: a well-formed cursor of
    another list, or with a value of the wrong type, is refused before it reaches a query."""
    from web.cursors import encode_cursor
    login, api = user(server)
    path = path.format(room=new_room(api))
    for position in ({"at": 7, "id": "x"}, {"created_at": "yesterday", "id": "x"}, {"before": "1"},
                     {"rank": "a", "id": "x"}, {"after": ["x"]}, {"before": 1, "after": 2}):
        response = api.get(path, params={"cursor": encode_cursor(position)})
        assert response.status_code == 400, (path, position, response.text)
        assert response.json()["error"]["details"]["fields"]["cursor"] == ["not a cursor returned by this server"]
    assert api.get(path).status_code == 200
