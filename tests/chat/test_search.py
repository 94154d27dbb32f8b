"""Full-text search over messages, over real HTTP and WebSockets: found by word, phrase and prefix,
ranked and paged; edits and deletes reflected; never a message from a room the caller cannot read.
The engine-independent tests run on PostgreSQL too (generated tsvector column, GIN index, ts_rank)."""
import functools
import random
import string

import pytest

from actors import runtime
from domain.config import build_config
from storage import migrations
from storage.models import Message, Room, RoomMember, User
from storage.db import database, open_database, unit_of_work
from storage.search import search_messages
from tests.support.chat_helpers import ChatClient, new_room, user
from web.cursors import encode_cursor


SERVER_CONFIG = {"chat": {"send_rate": "1000", "send_window_s": "1"}}


def word() -> str:
    """A word no other test uses (letters only: every engine's tokenizer keeps it whole)."""
    return "".join(random.choices(string.ascii_lowercase, k=12))


def author_in_room(server, name="general"):
    """A fresh user, their new public room and a /ws client joined to it."""
    login, api = user(server)
    room = new_room(api, name=name)
    client = ChatClient(server.ws_base, login)
    client.join(room)
    return api, room, client


def search(api, q, expect=200, **params):
    response = api.get("/search/messages", params={"q": q, **params})
    assert response.status_code == expect, response.text
    return response.json()


def found(api, q, **params):
    return [hit["message"]["id"] for hit in search(api, q, **params)["items"]]


def test_the_migration_indexes_messages_stored_before_it(tmp_path):
    """On its own SQLite file; the models' proxy is handed back to whatever server had it."""
    previous = database.obj
    db = open_database(build_config({"server": {"data_dir": str(tmp_path)}}))
    try:
        assert migrations.migrate(db, [m for m in migrations.MIGRATIONS if m.version < 5]) < 5
        key = word()
        with unit_of_work():
            ana = User.create(username="ana", email="ana@example.com", display_name="Ana", password_hash="x")
            room = Room.create(name="old", created_by=ana.id)
            RoomMember.create(room=room, user=ana, role="admin")
            kept = Message.create(room=room, seq=1, user=ana, content=f"from before {key}")
            Message.create(room=room, seq=2, user=ana, content="", is_deleted=True)
        migrations.migrate(db)
        search = functools.partial(search_messages, run_blocking=runtime.run_blocking)
        items, position = search(ana.id, key)
        assert [item["message"]["id"] for item in items] == [kept.id] and position is None
        with unit_of_work():
            Message.update(content="changed").where(Message.id == kept.id).execute()
        assert search(ana.id, key)[0] == [] and len(search(ana.id, "changed")[0]) == 1
    finally:
        db.close_all()
        if previous is not None:
            database.initialize(previous)


@pytest.mark.engines("sqlite", "postgresql")
def test_finds_by_word_phrase_and_prefix_best_match_first(server):
    api, room, client = author_in_room(server, name="release")
    key = word()
    strong = client.say(room, f"{key} {key} {key}")
    weak = client.say(room, f"the {key} went out after a long review of every open question")
    phrase = client.say(room, f"green {key} light")
    client.say(room, "nothing to see here")
    body = search(api, key.upper())
    assert [h["message"]["id"] for h in body["items"]][0] == strong["id"]
    assert {h["message"]["id"] for h in body["items"]} == {strong["id"], weak["id"], phrase["id"]}
    assert body["next_cursor"] is None
    ranks = [h["rank"] for h in body["items"]]
    assert ranks == sorted(ranks, reverse=True) and ranks[0] > ranks[-1]
    hit = body["items"][0]
    assert hit["room"] == {"id": room, "name": "release", "kind": "channel"}
    assert hit["message"]["content"] == strong["content"] and hit["message"]["seq"] == strong["seq"]
    assert f"<mark>{key}</mark>" in hit["snippet"]
    assert found(api, f'"green {key}"') == [phrase["id"]]
    assert found(api, f'"{key} green"') == []
    assert found(api, f"{key} -green") == [strong["id"], weak["id"]]
    assert found(api, f"review {key[:5]}") == [weak["id"]]  # the last word matches as a prefix
    assert found(api, f"{key[:5]} review") == []  # an earlier one does not
    assert found(api, key, room_id=room, limit=1) == [strong["id"]]
    client.close()


@pytest.mark.engines("sqlite", "postgresql")
def test_never_returns_a_message_from_a_room_the_caller_cannot_read(server):
    (a_login, a_api), (b_login, b_api), (c_login, c_api) = user(server), user(server), user(server)
    key = word()
    private, public, left = new_room(a_api, private=True), new_room(a_api), new_room(a_api)
    dm = a_api.post(f"/dms/{c_login['user']['id']}").json()["id"]
    assert b_api.post(f"/rooms/{left}/join").status_code == 200
    author = ChatClient(server.ws_base, a_login)
    said = {}
    for room in (private, public, left, dm):
        author.join(room)
        said[room] = author.say(room, f"secret {key} in here")["id"]
    assert set(found(a_api, key)) == set(said.values())
    assert b_api.post(f"/rooms/{left}/leave").status_code == 204
    assert found(b_api, key) == []  # private, not joined, left, someone else's DM
    assert found(c_api, key) == [said[dm]]
    for room, status in ((private, 404), (public, 403), (left, 403), (dm, 404)):
        error = search(b_api, key, expect=status, room_id=room)["error"]
        assert error["code"] == ("NOT_FOUND" if status == 404 else "FORBIDDEN")
        assert b_api.get(f"/rooms/{room}/messages").status_code == status  # the history route's answer
    assert search(b_api, key, expect=404, room_id="00000000-0000-4000-8000-000000000000")["error"]["code"] == \
        "NOT_FOUND"
    assert a_api.post(f"/rooms/{private}/members", json={"user_id": b_login["user"]["id"]}).status_code == 201
    assert found(b_api, key) == [said[private]]
    assert found(b_api, key, room_id=private) == [said[private]]
    author.close()


@pytest.mark.engines("sqlite", "postgresql")
def test_edits_and_deletes_are_reflected(server):
    api, room, client = author_in_room(server)
    old, new, kept = word(), word(), word()
    message = client.say(room, f"{old} {kept}")
    other = client.say(room, f"{kept} again")
    assert found(api, old) == [message["id"]]
    edited = client.request({"type": "edit_message", "message_id": message["id"], "new_content": f"{new} {kept}"})
    assert edited["type"] == "ack", edited
    assert found(api, old) == []
    assert found(api, new) == [message["id"]]
    assert search(api, new)["items"][0]["message"]["is_edited"] is True
    assert api.delete(f"/messages/{message['id']}").status_code == 200
    assert found(api, new) == [] and found(api, kept) == [other["id"]]
    assert api.delete(f"/rooms/{room}").status_code == 204
    assert found(api, kept) == []
    client.close()


@pytest.mark.engines("sqlite", "postgresql")
def test_pages_walk_every_hit_exactly_once_in_rank_order(server):
    api, room, client = author_in_room(server)
    key = word()
    sent = {client.say(room, f"{key} " + " ".join(["filler"] * (i % 4)))["id"] for i in range(8)}
    seen, ranks, cursor, pages = [], [], None, 0
    while True:
        body = search(api, key, limit=3, **({"cursor": cursor} if cursor else {}))
        seen += [h["message"]["id"] for h in body["items"]]
        ranks += [h["rank"] for h in body["items"]]
        pages, cursor = pages + 1, body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 8 and set(seen) == sent
    assert ranks == sorted(ranks, reverse=True)
    assert search(api, key, expect=400, cursor="bm90IGEgY3Vyc29y")["error"]["details"]["fields"]["cursor"]
    for position in ({"rank": "a", "id": seen[0]}, {"rank": 10 ** 400, "id": seen[0]}, {"rank": 0.5, "id": "\x00"},
                     {"rank": 0.5}, [0.5]):
        assert search(api, key, expect=400, cursor=encode_cursor(position))["error"]["code"] == "BAD_REQUEST"
    client.close()


@pytest.mark.parametrize("params, field", [
    ({}, "q"), ({"q": ""}, "q"), ({"q": "x" * 201}, "q"), ({"q": "!!! -- ***"}, "q"), ({"q": "-only -minus"}, "q"),
    ({"q": "a", "room_id": "not-a-uuid"}, "room_id"), ({"q": "a", "limit": "0"}, "limit"),
    ({"q": "a", "limit": "201"}, "limit")])
@pytest.mark.engines("sqlite", "postgresql")
def test_bad_input_is_a_bad_request(server, params, field):
    _, api = user(server)
    response = api.get("/search/messages", params=params)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "BAD_REQUEST" and field in error["details"]["fields"]


@pytest.mark.engines("sqlite", "postgresql")
def test_engine_syntax_in_the_query_is_only_text(server):
    api, room, client = author_in_room(server)
    key = word()
    message = client.say(room, f"near {key} or and not x s")
    hostile = [f"{key} OR", f"NEAR({key}", f'"{key}', f'{key}"', f"near:{key}", f"^{key}", f"{key}*", f"({key}",
               f"{key} AND", f"{key} NOT", f"'{key}'", f"{key} & !", f"{key} <-> x", f"{key}\\", f'"{key}"" ""',
               f"{key}:*", f"{key} -", f"- {key}", f"{{{key}}}", f'{key} -""', f"{key} x%s", f"{key} ?",
               f"{key} ');--"]
    for q in hostile:
        assert found(api, q) == [message["id"]], q
    for q in (f"{key} \x00", f"{key}\x00near", f'{key} -"\x01"'):  # control characters are refused, as in any text
        assert list(search(api, q, expect=400)["error"]["details"]["fields"]) == ["q"]
    assert found(api, f"{key} OR {word()}") == []  # operator words are plain words: both must match
    assert found(api, f"{key} -near") == []
    client.close()


def test_accents_and_case_are_folded_on_sqlite(server):
    api, room, client = author_in_room(server)
    key = word()
    message = client.say(room, f"Crème brûlée for {key}")
    assert found(api, f"creme brulee {key}") == [message["id"]]
    assert "<mark>Crème</mark>" in search(api, f"creme {key}")["items"][0]["snippet"]
    tagged = client.say(room, f"<script>{key}</script> & more")
    snippet = search(api, f"{key} more")["items"][0]["snippet"]
    assert snippet == f"&lt;script&gt;<mark>{key}</mark>&lt;/script&gt; &amp; <mark>more</mark>", snippet
    assert found(api, f"script {key}") == [tagged["id"]]
    client.close()


