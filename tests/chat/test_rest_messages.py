"""POST /api/v1/rooms/{id}/messages: the /ws send path over REST (same checks, same rate limit, same
writer), answered once stored, with its seq; interleaved with /ws sends in one seq order."""
import uuid

import gevent
import pytest
import requests

from confab_client import BadRequest, Client, Forbidden, NotFound, RateLimited
from tests.support.harness import POSTGRES_CHAT, serving
from tests.support.chat_helpers import ChatClient, new_room, room_with_two_members, user


SERVER_CONFIG = {"chat": {"send_rate": "200", "max_message_chars": "50"}}
POSTGRESQL_CONFIG = POSTGRES_CHAT


def sdk(server, login):
    return Client(server.base, access_token=login["access_token"])


@pytest.mark.engines("sqlite", "postgresql")
def test_a_rest_send_is_stored_with_its_seq_and_reaches_the_room(server):
    room, (a_login, a_api), (b_login, _) = room_with_two_members(server)
    watcher = ChatClient(server.ws_base, b_login)
    watcher.join(room)
    response = a_api.post(f"/rooms/{room}/messages", json={"content": "over rest", "client_msg_id": "c-1"})
    assert response.status_code == 201, response.text
    message = response.json()
    assert message["seq"] == 1 and message["content"] == "over rest" and message["client_msg_id"] == "c-1"
    assert message["user"] == {"id": a_login["user"]["id"], "username": a_login["user"]["username"],
                               "display_name": a_login["user"]["display_name"], "is_bot": False}
    assert watcher.of_type("new_message")["message"] == message
    assert a_api.get(f"/rooms/{room}/messages").json()["items"] == [message]  # stored before the answer


@pytest.mark.engines("sqlite", "postgresql")
def test_a_resend_answers_the_stored_message_with_200_and_broadcasts_nothing(server):
    room, (a_login, a_api), (b_login, _) = room_with_two_members(server)
    watcher = ChatClient(server.ws_base, b_login)
    watcher.join(room)
    first = a_api.post(f"/rooms/{room}/messages", json={"content": "once", "client_msg_id": "same"})
    again = a_api.post(f"/rooms/{room}/messages", json={"content": "once", "client_msg_id": "same"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    # the same key sent first over /ws is a resend too
    ws_sent = ChatClient(server.ws_base, a_login).say(room, "ws first", client_msg_id="from-ws")
    over_rest = a_api.post(f"/rooms/{room}/messages", json={"content": "ws first", "client_msg_id": "from-ws"})
    assert over_rest.status_code == 200 and over_rest.json()["id"] == ws_sent["id"]
    without_key = [a_api.post(f"/rooms/{room}/messages", json={"content": "no key"}).json() for _ in range(2)]
    assert without_key[0]["id"] != without_key[1]["id"] and without_key[0]["client_msg_id"]
    frames = [f["message"]["seq"] for f in watcher.drain() if f["type"] == "new_message"]
    assert frames == [1, 2, 3, 4]


@pytest.mark.engines("sqlite", "postgresql")
def test_rest_and_ws_sends_interleave_in_one_seq_order(server):
    room, (a_login, _), (b_login, _) = room_with_two_members(server)
    watcher_login, _ = user(server)
    rest, ws_client = sdk(server, a_login), sdk(server, b_login)
    rest.join_room(room)
    sdk(server, watcher_login).join_room(room)
    count = 15
    with sdk(server, watcher_login).chat() as watcher, ws_client.chat() as ws:
        watcher.join(room)
        ws.join(room)
        by_rest = gevent.spawn(lambda: [rest.send_message(room, f"rest {i}") for i in range(count)])
        by_ws = gevent.spawn(lambda: [ws.send_message(room, f"ws {i}") for i in range(count)])
        gevent.joinall([by_rest, by_ws], raise_error=True)
        seen = [event.message for event in _take(watcher, 2 * count)]
    answered = by_rest.value + by_ws.value
    assert sorted(m["seq"] for m in answered) == list(range(1, 2 * count + 1))
    assert [m["seq"] for m in seen] == list(range(1, 2 * count + 1))
    assert {m["id"]: m["seq"] for m in seen} == {m["id"]: m["seq"] for m in answered}
    for prefix in ("rest", "ws"):  # each sender's messages keep their order within the room's
        mine = [m["content"] for m in seen if m["content"].startswith(prefix)]
        assert mine == [f"{prefix} {i}" for i in range(count)]
    assert {m["content"].split()[0] for m in seen[:count]} == {"rest", "ws"}  # they really interleaved


def _take(session, count):
    events = []
    for event in session.events(timeout_s=10):
        if event.message is not None:
            events.append(event)
            if len(events) == count:
                break
    assert len(events) == count, f"only {len(events)} of {count} messages arrived"
    return events


def test_the_send_is_validated_like_send_message(server):
    room, (a_login, a_api), (b_login, b_api) = room_with_two_members(server)
    client = sdk(server, a_login)
    with pytest.raises(BadRequest) as too_long:
        client.send_message(room, "x" * 51)
    assert "content" in too_long.value.details["fields"]
    with pytest.raises(BadRequest) as empty:
        client.send_message(room, "")
    assert "content" in empty.value.details["fields"]
    assert a_api.post(f"/rooms/{room}/messages", json={"content": "hi", "client_msg_id": ""}).status_code == 400
    assert a_api.post(f"/rooms/{room}/messages", json={"content": "hi", "attachments": ["nope"]}).status_code == 400
    with pytest.raises(NotFound):
        client.send_message(room, "see file", attachments=[str(uuid.uuid4())])
    with pytest.raises(NotFound):
        client.send_message(room, "reply", reply_to_id=str(uuid.uuid4()))
    root = client.send_message(room, "root")
    reply = sdk(server, b_login).send_message(room, "in thread", reply_to_id=root["id"])
    assert reply["reply_to_id"] == root["id"] and reply["thread_root_id"] == root["id"]
    assert [m["id"] for m in a_api.get(f"/messages/{root['id']}/thread").json()["items"]] == [root["id"], reply["id"]]
    uploaded = client.upload(_png(), "dot.png")
    only_file = client.send_message(room, "", attachments=[uploaded["file_id"]])
    assert only_file["attachments"][0]["file_id"] == uploaded["file_id"]
    assert requests.get(f"{server.base}{uploaded['file_url']}",
                        headers={"Authorization": f"Bearer {b_login['access_token']}"}).status_code == 200


def _png():
    import io

    from PIL import Image
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), "red").save(buffer, "PNG")
    buffer.seek(0)
    return buffer


def test_only_members_may_send(server):
    (_, a_api), (b_login, _) = user(server), user(server)
    public, private = new_room(a_api), new_room(a_api, private=True)
    outsider = sdk(server, b_login)
    with pytest.raises(Forbidden):
        outsider.send_message(public, "let me in")
    with pytest.raises(NotFound):
        outsider.send_message(private, "let me in")
    with pytest.raises(Forbidden):
        outsider.send_message(public, "resend?", client_msg_id="k")  # the resend check asks the same
    assert a_api.get(f"/rooms/{public}/messages").json()["items"] == []


def test_rest_and_ws_sends_spend_one_rate_limit_budget(tmp_path):
    with serving(tmp_path, env={"CONFAB_CHAT_SEND_RATE": "3", "CONFAB_CHAT_SEND_WINDOW_S": "60"}) \
            as server:
        room, (a_login, a_api), _ = room_with_two_members(server)
        client = sdk(server, a_login)
        with client.chat() as session:
            session.send_message(room, "ws 1")
            client.send_message(room, "rest 1")
            session.send_message(room, "ws 2")
            refused = a_api.post(f"/rooms/{room}/messages", json={"content": "rest 2"})
            assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
            assert refused.json()["error"]["details"]["retry_after_s"] >= 1
            with pytest.raises(RateLimited):
                session.send_message(room, "ws 3")
        # a resend of a stored message spends nothing: it is answered even now
        stored = client.history(room)[0]
        assert client.send_message(room, "ws 1", client_msg_id=stored["client_msg_id"])["id"] == stored["id"]
        assert [m["content"] for m in client.history(room)] == ["ws 1", "rest 1", "ws 2"]


def test_the_route_is_in_the_openapi_contract(server):
    spec = requests.get(f"{server.base}/api/v1/openapi.json").json()
    send = spec["paths"]["/api/v1/rooms/{room_id}/messages"]["post"]
    assert {"200", "201"} <= set(send["responses"])
    assert "client_msg_id" in spec["components"]["schemas"]["SendMessage"]["properties"]


def test_one_length_rule_for_sends_and_edits_over_rest_and_ws(server):
    """The content rule is chat's (actors.chat.commands), not each transport's: the same refusal
    names the field the client sent, and nothing is stored."""
    room, (a_login, a_api), _ = room_with_two_members(server)
    ws = ChatClient(server.ws_base, a_login)
    ws.join(room)
    kept = ws.say(room, "short")
    expected = ["longer than 50 characters"]
    refusals = [
        a_api.post(f"/rooms/{room}/messages", json={"content": "x" * 51}).json()["error"]["details"]["fields"],
        a_api.put(f"/messages/{kept['id']}", json={"content": "x" * 51}).json()["error"]["details"]["fields"],
        ws.request({"type": "send_message", "room_id": room, "content": "x" * 51,
                    "client_msg_id": uuid.uuid4().hex})["error"]["details"]["fields"],
        ws.request({"type": "edit_message", "message_id": kept["id"], "new_content": "x" * 51})["error"]["details"]["fields"]]
    assert refusals == [{"content": expected}, {"content": expected}, {"content": expected}, {"new_content": expected}]
    history = a_api.get(f"/rooms/{room}/messages").json()["items"]
    assert [(m["id"], m["content"]) for m in history] == [(kept["id"], "short")]
    ws.close()
