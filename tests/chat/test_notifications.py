"""Notifications over real sockets: mentions, DMs and replies arrive live on every socket of the user,
are stored once per message, never for your own messages or rooms you cannot read; listed and marked
read over REST."""

from actors.chat.notifications import mentions
from tests.support.chat_helpers import ChatClient, new_room, user


SERVER_CONFIG = {"chat": {"send_rate": "100"}}


def name(login):
    return login["user"]["username"]


def notifications(api, **params):
    response = api.get("/notifications", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def is_notification(frame):
    return frame["type"] == "notification"


def barrier(client, room):
    """Send a message and wait for its ``new_message``: every event of the room before it has been fanned out."""
    message = client.say(room, "barrier")
    client.wait_for(lambda f: f["type"] == "new_message" and f["message"]["id"] == message["id"])


def test_mentions_are_parsed_from_text():
    assert mentions("hi @ana, @bob. and mail x@carol.com or @@dan @zz") == {"ana", "bob.", "bob", "dan"}


def test_a_mention_notifies_every_socket_of_the_member_live_and_nobody_else(server):
    (a_login, a_api), (b_login, b_api), (c_login, c_api) = user(server), user(server), user(server)
    room = new_room(a_api)
    assert b_api.post(f"/rooms/{room}/join").status_code == 200
    sender = ChatClient(server.ws_base, a_login)
    sender.join(room)
    b_joined, b_idle = ChatClient(server.ws_base, b_login), ChatClient(server.ws_base, b_login)  # b_idle joins nothing
    b_joined.join(room)
    outsider = ChatClient(server.ws_base, c_login)  # not a member of the public room: cannot read it
    message = sender.say(room, f"@{name(b_login)} look, and @{name(c_login)} and me @{name(a_login)} @nobody_here")

    for socket in (b_joined, b_idle):
        live = socket.wait_for(is_notification)["notification"]
        assert live["kind"] == "mention" and live["room_id"] == room and live["message_id"] == message["id"]
        assert live["actor"]["id"] == a_login["user"]["id"] and live["actor"]["username"] == name(a_login)
        assert live["snippet"] == message["content"] and live["read_at"] is None and live["created_at"].endswith("Z")
    barrier(sender, room)
    assert not [f for f in sender.drain() + outsider.drain() + b_idle.drain() if is_notification(f)]
    assert notifications(c_api)["items"] == [] and notifications(a_api)["items"] == []

    listed = notifications(b_api)
    assert listed["unread_count"] == 1 and listed["next_cursor"] is None
    assert [n["id"] for n in listed["items"]] == [live["id"]]
    read = b_api.post(f"/notifications/{live['id']}/read")
    assert read.status_code == 200 and read.json()["read_at"] is not None
    again = b_api.post(f"/notifications/{live['id']}/read").json()
    assert again["read_at"] == read.json()["read_at"]  # idempotent: the first read time stays
    assert notifications(b_api)["unread_count"] == 0
    assert notifications(b_api, unread="true")["items"] == []
    assert c_api.post(f"/notifications/{live['id']}/read").json()["error"]["code"] == "NOT_FOUND"
    for socket in (sender, b_joined, b_idle, outsider):
        socket.close()


def test_dm_and_reply_give_one_notification_per_message(server):
    (a_login, a_api), (b_login, b_api) = user(server), user(server)
    dm = a_api.post(f"/dms/{b_login['user']['id']}").json()["id"]
    a = ChatClient(server.ws_base, a_login)
    b = ChatClient(server.ws_base, b_login)
    a.join(dm)
    a.say(dm, f"@{name(b_login)} in a DM")  # a DM that also mentions: one notification, kind dm
    assert b.wait_for(is_notification)["notification"]["kind"] == "dm"

    room = new_room(a_api)
    assert b_api.post(f"/rooms/{room}/join").status_code == 200
    a.join(room)
    b.join(room)
    original = a.say(room, "a question")
    b.say(room, "plain answer", reply_to_id=original["id"])
    assert a.wait_for(is_notification)["notification"]["kind"] == "reply"
    b.say(room, f"@{name(a_login)} answer that mentions you", reply_to_id=original["id"])
    assert a.wait_for(is_notification)["notification"]["kind"] == "mention"
    a.say(room, "replying to myself", reply_to_id=original["id"])
    barrier(a, room)
    assert not [f for f in a.drain() if is_notification(f)]
    kinds = [n["kind"] for n in notifications(a_api)["items"]]
    assert kinds == ["mention", "reply"]  # newest first, one per message
    assert [n["kind"] for n in notifications(b_api)["items"]] == ["dm"]

    assert b_api.post(f"/rooms/{room}/leave").status_code == 204  # b can no longer read the room
    a.say(room, f"@{name(b_login)} are you there?")
    a.say(dm, "but the DM still reaches you")
    assert b.wait_for(is_notification)["notification"]["snippet"] == "but the DM still reaches you"
    assert [n["kind"] for n in notifications(b_api)["items"]] == ["dm", "dm"]
    a.close()
    b.close()


def test_listing_pages_newest_first_and_refuses_bad_queries(server):
    (a_login, a_api), (b_login, b_api) = user(server), user(server)
    room = new_room(a_api)
    assert b_api.post(f"/rooms/{room}/join").status_code == 200
    a = ChatClient(server.ws_base, a_login)
    a.join(room)
    sent = [a.say(room, f"@{name(b_login)} number {i}")["id"] for i in range(5)]
    first = notifications(b_api, limit=2)
    assert first["unread_count"] == 5 and first["next_cursor"]
    second = notifications(b_api, limit=2, cursor=first["next_cursor"])
    third = notifications(b_api, limit=2, cursor=second["next_cursor"])
    assert third["next_cursor"] is None
    pages = [n["message_id"] for page in (first, second, third) for n in page["items"]]
    assert pages == sent[::-1]
    for params in ({"limit": 0}, {"limit": 201}, {"cursor": "not-a-cursor"}, {"unread": "perhaps"}):
        response = b_api.get("/notifications", params=params)
        assert response.status_code == 400 and response.json()["error"]["code"] == "BAD_REQUEST", params
    assert b_api.post("/notifications/no-such-id/read").status_code == 404
    a.close()


def test_an_edit_that_adds_a_mention_notifies_only_the_newly_mentioned(server):
    (a_login, a_api), (b_login, b_api), (c_login, c_api) = user(server), user(server), user(server)
    room = new_room(a_api)
    for api in (b_api, c_api):
        assert api.post(f"/rooms/{room}/join").status_code == 200
    sender = ChatClient(server.ws_base, a_login)
    sender.join(room)
    b, c = ChatClient(server.ws_base, b_login), ChatClient(server.ws_base, c_login)
    message = sender.say(room, f"hi @{name(b_login)}")
    assert b.wait_for(is_notification)["notification"]["message_id"] == message["id"]
    edited = sender.request({"type": "edit_message", "message_id": message["id"],
                             "new_content": f"hi @{name(b_login)} and @{name(c_login)}"})
    assert edited["type"] == "ack", edited
    live = c.wait_for(is_notification)["notification"]
    assert live["kind"] == "mention" and live["message_id"] == message["id"] and name(c_login) in live["snippet"]
    sender.request({"type": "edit_message", "message_id": message["id"],  # mentioned already: nothing new
                    "new_content": f"hey @{name(b_login)} and @{name(c_login)}"})
    barrier(sender, room)
    assert not [f for f in b.drain() + c.drain() if is_notification(f)]
    assert len(notifications(b_api)["items"]) == 1 and len(notifications(c_api)["items"]) == 1
    for client in (sender, b, c):
        client.close()
