"""Client text that no layer can hold is refused at the edge, naming the field, on REST and /ws, on
SQLite and PostgreSQL: NUL and other control characters, lone surrogates, integers past 64 bits, JSON
nested past the interpreter's stack. None of it reaches the chat writer's shared transaction, so the
other users' sends of the same moment are acknowledged."""
import importlib
import json
import logging
import pkgutil
import uuid

import gevent
import pytest
import requests
from marshmallow import fields

import web.routes
import web.schemas.accounts
import web.schemas.chat
from actors.documents import ws_frames
from domain import chat_frames
from domain.input_fields import INT64_MAX, json_problem, text_problem
from tests.support.harness import LogRecords
from tests.support.chat_helpers import ChatClient, new_room, user

#: fields read before any schema: the frame envelope (matched against registered names) and ``ref``
#: (echoed, encoded by the /ws protocol)
ENVELOPE = {"type", "ref"}
PLAIN = (fields.String, fields.Email, fields.Dict, fields.Raw)


def test_text_rules():
    assert text_problem("line one\nline two\ttab\r\n") is None
    assert text_problem("emoji 😀 and ünïcode") is None
    assert "U+0000" in text_problem("a\x00b")
    assert "U+001B" in text_problem("\x1b[31m")
    assert "U+0085" in text_problem("next\x85line")
    assert "lone surrogate (U+D800)" in text_problem("\ud800")
    assert json_problem({"a": [{"b": "ok"}], "n": INT64_MAX}) is None
    assert "U+0000" in json_problem({"ok": [1, {"deep": "x\x00"}]})
    assert "surrogate" in json_problem({"\udfff": 1})
    assert "64 bits" in json_problem([INT64_MAX + 1])
    nested: list = []
    for _ in range(10_000):
        nested = [nested]
    assert "nested deeper" in json_problem(nested)


def loaded_schemas() -> set[type]:
    """Every schema a REST route loads its arguments with, and every /ws frame schema."""
    loaded: set[type] = set()
    for info in pkgutil.iter_modules(web.routes.__path__):
        blp = getattr(importlib.import_module(f"web.routes.{info.name}"), "blp", None)
        for endpoint in getattr(blp, "_docs", {}).values():
            for method in endpoint.values():
                for argument in (method or {}).get("arguments", {}).get("parameters", []):
                    schema = argument["schema"]
                    loaded.add(schema if isinstance(schema, type) else type(schema))
    loaded |= {type(schema) for schema in chat_frames.SCHEMAS.values()}
    return loaded | {ws_frames._DocumentFrame, ws_frames._EditFrame, ws_frames._PresenceFrame}


def test_every_string_a_schema_loads_is_held_to_the_text_rules():
    """A plain ``fields.String`` (or Dict/Raw) in an input schema would let NUL and surrogates through."""
    schemas = loaded_schemas()
    assert {web.schemas.chat.RoomCreateSchema, web.schemas.accounts.RegisterSchema,
            web.schemas.chat.MessageHistoryQuery, chat_frames.SendMessageFrame} <= schemas
    unguarded = []
    for cls in schemas:
        for name, field in cls._declared_fields.items():
            inner = field.inner if isinstance(field, fields.List) else field
            if name not in ENVELOPE and not field.dump_only and type(inner) in PLAIN:
                unguarded.append(f"{cls.__name__}.{name}")
    assert unguarded == []


# --- on the wire ----------------------------------------------------------------------------------------

pytestmark = pytest.mark.engines("sqlite", "postgresql")
SERVER_CONFIG = {"chat": {"send_rate": "1000", "send_window_s": "1"}}


def _fields_of(response: requests.Response) -> dict:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "BAD_REQUEST"
    return error["details"]["fields"]


def test_rest_bodies_refuse_nul_controls_and_lone_surrogates_naming_the_field(server):
    login, api = user(server)
    assert "name" in _fields_of(api.post("/rooms", json={"name": "gen\x00eral"}))
    assert "description" in _fields_of(api.post("/rooms", json={"name": "ok", "description": "\x1b[2J"}))
    raw = '{"name": "room \\ud800"}'
    assert "name" in _fields_of(api.post("/rooms", data=raw, headers={"Content-Type": "application/json"}))
    room = new_room(api)
    client = ChatClient(server.ws_base, login)
    try:
        client.join(room)
        message = client.say(room, "hello")
    finally:
        client.close()
    assert "content" in _fields_of(api.put(f"/messages/{message['id']}", json={"content": "x\x00"}))
    assert "emoji" in _fields_of(api.post(f"/messages/{message['id']}/reactions",
                                          data='{"emoji": "\\udc00"}', headers={"Content-Type": "application/json"}))
    assert "q" in _fields_of(api.get("/search/messages", params={"q": "hello\x00"}))
    assert "seq" in _fields_of(api.post(f"/rooms/{room}/read", json={"seq": INT64_MAX + 1}))
    assert "before_seq" in _fields_of(api.get(f"/rooms/{room}/messages", params={"before_seq": 10 ** 30}))
    assert "room_id" in _fields_of(api.get("/rooms/%00"))
    assert api.get(f"/rooms/{room}").json()["name"] == "general"  # nothing changed


def test_an_unknown_field_named_by_a_lone_surrogate_is_echoed_escaped(server):
    _, api = user(server)
    response = api.post("/rooms", data='{"name": "ok", "\\ud800": 1}', headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    response.content.decode("utf-8")  # valid UTF-8
    assert list(_fields_of(response)) == ["\ud800"]


def test_undecodable_json_bodies_are_bad_requests_without_a_traceback(server):
    _, api = user(server)
    headers = {"Content-Type": "application/json"}
    with LogRecords(logging.ERROR) as errors:
        for body in ("[" * 100_000, '{"name": ' + "[" * 100_000, '{"name": "x", "n": ' + "9" * 5000 + "}",
                     '{"name": "x"', "\xff\xfe"):
            response = api.post("/rooms", data=body.encode("utf-8", "surrogatepass"), headers=headers)
            assert response.status_code == 400, (body[:20], response.text)
            assert response.json()["error"]["code"] == "BAD_REQUEST"
    assert errors.lines() == []


def _bad_request_field(reply: dict) -> list:
    """The top-level fields a BAD_REQUEST names (a nested one is named by its path, ``ops.0.insert``)."""
    assert reply["type"] == "error" and reply["error"]["code"] == "BAD_REQUEST", reply
    return [name.split(".")[0] for name in reply["error"]["details"]["fields"]]


def test_ws_frames_refuse_nul_and_surrogates_while_other_users_sends_are_acked(server):
    """The frames of the issue, sent while four other users send: they get BAD_REQUEST naming the field,
    every other send of that moment is acknowledged (not UNAVAILABLE with the batch)."""
    attacker_login, attacker_api = user(server)
    room = new_room(attacker_api)
    others = [user(server) for _ in range(4)]
    for _, api in others:
        assert api.post(f"/rooms/{room}/join").status_code == 200
    attacker = ChatClient(server.ws_base, attacker_login)
    clients = [ChatClient(server.ws_base, login) for login, _ in others]
    try:
        for client in [attacker, *clients]:
            client.join(room)
        bad_frames = [
            ({"type": "read", "room_id": "\u0000", "seq": 0}, "room_id"),
            ({"type": "send_message", "room_id": room, "content": "nul \x00 here", "client_msg_id": "c1"}, "content"),
            ({"type": "send_message", "room_id": room, "content": "\ud800", "client_msg_id": "c2"}, "content"),
            ({"type": "send_message", "room_id": room, "content": "ok", "client_msg_id": "\udbff"}, "client_msg_id"),
            ({"type": "send_message", "room_id": "\ud800", "content": "ok", "client_msg_id": "c3"}, "room_id"),
            ({"type": "read", "room_id": room, "seq": INT64_MAX + 1}, "seq"),
            ({"type": "edit_message", "message_id": "m", "new_content": "\x07"}, "new_content"),
            ({"type": "add_reaction", "message_id": "m", "emoji": "\x00"}, "emoji"),
        ]

        def other_sends(client):
            return [client.request({"type": "send_message", "room_id": room, "content": f"hi {n}",
                                    "client_msg_id": uuid.uuid4().hex}) for n in range(5)]

        workers = [gevent.spawn(other_sends, client) for client in clients]
        refs = [(attacker.send(dict(frame)), field) for frame, field in bad_frames for _ in range(3)]
        for ref, field in refs:
            assert _bad_request_field(attacker.wait_for(lambda f, ref=ref: f.get("ref") == ref)) == [field]
        gevent.joinall(workers, raise_error=True)
        replies = [reply for worker in workers for reply in worker.value]
        assert [r["type"] for r in replies] == ["ack"] * len(replies), [r for r in replies if r["type"] != "ack"]
        assert attacker.request({"type": "read", "room_id": room, "seq": 0})["type"] == "ack"
    finally:
        for client in [attacker, *clients]:
            client.close()


def test_document_frames_refuse_bad_text_in_ops_and_presence(server):
    login, api = user(server)
    document = api.post("/documents", json={"title": "notes"}).json()["id"]
    client = ChatClient(server.ws_base, login)
    try:
        assert client.request({"type": "join_document", "document_id": document})["type"] == "ack"
        reply = client.request({"type": "edit_document", "document_id": document, "ops": [{"insert": "a\ud800"}]})
        assert _bad_request_field(reply) == ["ops"]
        reply = client.request({"type": "presence", "document_id": document, "state": {"name": "\x00"}})
        assert _bad_request_field(reply) == ["state"]
        assert client.request({"type": "edit_document", "document_id": document,
                               "ops": [{"insert": "fine\n"}]})["type"] == "ack"
    finally:
        client.close()
    assert api.get(f"/documents/{document}").json()["content"] == "fine\n"
    assert json.dumps(api.get(f"/documents/{document}").json())
