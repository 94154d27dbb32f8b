"""A fixed corpus of generated client input over real sockets: no reply is INTERNAL, no REST status is
5xx, no socket is closed for a frame, and the server logs no error.

The corpus (seeded, so a failure reproduces) mixes well-formed frames and bodies with wrong types,
NUL and control characters, lone surrogates, huge and fractional numbers, long strings, deep nesting
and undecodable JSON, field by field over every /ws frame type and every REST route that takes a body,
a query or a path parameter. Frame ``ref``s are kept well-formed so replies can be matched.
"""
import json
import logging
import random
import uuid
from typing import Any

import pytest
import requests

from domain import chat_frames
from tests.support.harness import LogRecords
from tests.support.chat_helpers import ChatClient, new_room, user

SEED = 13
FRAMES = 600
REQUESTS = 500
ODD_STRINGS = ["\x00", "a\x00b", "\ud800", "x\udfffy", "\x1b[31mred", "\x7f", "\x85", "\r\n", "\t", "😀",
               "", " ", "x" * 5000, "../../etc/passwd", "%00", "' OR 1=1 --", "<script>", "\u202e", "\ufeff"]
ODD_NUMBERS = [0, -1, 1, 2 ** 31, 2 ** 63 - 1, 2 ** 63, -2 ** 63 - 1, 10 ** 30, 0.5, -0.0, 1e308, float("nan")]
RAW_TEXTS = ["[" * 100_000, "{" * 50_000, '{"type": "ping", "n": ' + "9" * 5000 + "}", "not json", "", "null",
             "[]", '"string"', "1e999999", '{"type": 1}', '{"type": null}', '{"type": "\\ud800"}',
             '{"type": "send_message", "content": "' + "\\ud83d" * 100 + '"}']
DOCUMENT_FRAMES = {"join_document": ["document_id"], "leave_document": ["document_id"],
                   "edit_document": ["document_id", "ops"], "presence": ["document_id", "state"]}


class Corpus:
    def __init__(self, seed: int, known: dict[str, str]) -> None:
        self.rng, self.known = random.Random(seed), known

    def value(self, depth: int = 0) -> Any:
        kind = self.rng.randrange(10)
        if kind == 0:
            return self.rng.choice(ODD_STRINGS)
        if kind == 1:
            return self.rng.choice(ODD_NUMBERS)
        if kind == 2:
            return self.rng.choice([True, False, None])
        if kind == 3 and depth < 3:
            return [self.value(depth + 1) for _ in range(self.rng.randrange(4))]
        if kind == 4 and depth < 3:
            return {self.key(): self.value(depth + 1) for _ in range(self.rng.randrange(4))}
        if kind == 5:
            nested: Any = "deep"
            for _ in range(self.rng.choice([40, 500])):  # deeper ones are in RAW_TEXTS
                nested = [nested]
            return nested
        if kind in (6, 7):
            return self.rng.choice(list(self.known.values()))
        return self.rng.choice(["hello", "general", "👍", str(uuid.uuid4()), "@someone", "member", "viewer"])

    def key(self) -> str:
        return self.rng.choice(["a", "name", "user", "\x00", "x\ty", "insert", "retain", "delete", "color"])

    def fields(self, names: list[str]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for name in names:
            roll = self.rng.random()
            if roll < 0.15:
                continue  # missing
            body[name] = self.known.get(name) if roll < 0.45 and name in self.known else self.value()
        if self.rng.random() < 0.1:
            body[self.key()] = self.value()  # unknown field
        return body

    def frame(self, frame_type: str, names: list[str]) -> dict[str, Any]:
        return {"type": frame_type, **self.fields(names)}


def _frame_fields() -> dict[str, list[str]]:
    types = {name: [f for f in schema.fields if f not in ("type", "ref")] for name, schema in chat_frames.SCHEMAS.items()}
    return {**types, **DOCUMENT_FRAMES, "ping": [], "no_such_type": ["room_id"]}


pytestmark = pytest.mark.engines("sqlite", "postgresql")
SERVER_CONFIG = {
    "chat": {"send_rate": "100000", "send_window_s": "1", "rate_limit_close_after": "100000"},
    "rate_limit": {"user_rate_per_s": "100000", "user_burst": "100000",
                   "ip_rate_per_s": "100000", "ip_burst": "100000"},
}


@pytest.fixture(scope="module")
def world(server):
    """A user with a room, a message, a document and a file id to aim at."""
    login, api = user(server)
    room = new_room(api)
    client = ChatClient(server.ws_base, login)
    client.join(room)
    message = client.say(room, "target")
    client.close()
    document = api.post("/documents", json={"title": "fuzzed"}).json()["id"]
    known = {"room_id": room, "message_id": message["id"], "document_id": document, "user_id": login["user"]["id"],
             "webhook_id": str(uuid.uuid4()), "file_id": str(uuid.uuid4()), "notification_id": str(uuid.uuid4()),
             "key_id": str(uuid.uuid4()), "client_msg_id": "fuzz", "seq": 1}
    return login, api, known


def _internal(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in frames if f.get("type") == "error" and f["error"]["code"] == "INTERNAL"]


def test_generated_frames_never_answer_internal_nor_close_the_socket(server, world):
    login, _, known = world
    corpus = Corpus(SEED, known)
    kinds = _frame_fields()
    client = ChatClient(server.ws_base, login)
    seen: list[dict[str, Any]] = []
    try:
        with LogRecords(logging.ERROR) as errors:
            for index in range(FRAMES):
                if index % 10 == 0:
                    client.ws.send(corpus.rng.choice(RAW_TEXTS))
                else:
                    frame_type = corpus.rng.choice(sorted(kinds))
                    text = json.dumps(corpus.frame(frame_type, kinds[frame_type]))
                    client.ws.send(text)
                if index % 25 == 24:
                    seen += client.drain()  # ends with a pong: the socket is alive and answering
            seen += client.drain()
            assert client.request({"type": "ping"})["type"] == "pong"
        assert _internal(seen) == []
        assert errors.lines() == []
    finally:
        client.close()


def _routes(server) -> list[tuple[str, str, dict[str, str], Any]]:
    """(method, rule, {path parameter: kind}, the schema and location of its arguments) of every API route."""
    app = server.confab.server.application
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/api/v1/", "/files/")) or rule.rule.endswith("openapi.json"):
            continue
        view = app.view_functions[rule.endpoint]
        arguments = getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", [])
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, rule.rule, list(rule.arguments), arguments))
    return found


def _bytes(text: str) -> bytes:
    """UTF-8, lone surrogates included (as the invalid bytes a hostile client would send)."""
    return text.encode("utf-8", "surrogatepass")


def _schema_names(argument: dict[str, Any]) -> list[str]:
    schema = argument["schema"]
    return list((schema() if isinstance(schema, type) else schema).fields)


def test_generated_rest_requests_never_answer_5xx(server, world):
    login, api, known = world
    corpus = Corpus(SEED + 1, known)
    routes = _routes(server)
    assert len(routes) > 40
    statuses: dict[int, int] = {}
    failures = []
    with LogRecords(logging.ERROR) as errors:
        for index in range(REQUESTS):
            method, rule, params, arguments = corpus.rng.choice(routes)
            path = rule
            for name in params:
                value = known.get(name) if corpus.rng.random() < 0.6 else corpus.value()
                path = path.replace(f"<{name}>", requests.utils.quote(_bytes(str(value)), safe=""))
            query: list[tuple[str, bytes]] = []
            body: Any = None
            for argument in arguments:
                values = corpus.fields(_schema_names(argument))
                if argument["in"] == "query":
                    query = [(k, _bytes(str(v))) for k, v in values.items()]
                else:
                    body = values
            headers = {"Content-Type": "application/json"}
            if index % 12 == 0:
                data = _bytes(corpus.rng.choice(RAW_TEXTS))
            else:
                data = json.dumps(body if body is not None else corpus.value()).encode()
            url = server.base + path
            response = requests.request(method, url, params=query, data=data,
                                        headers={**headers, "Authorization": f"Bearer {login['access_token']}"})
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                failures.append((method, path[:80], data[:80], response.text[:200]))
    assert failures == []
    assert errors.lines() == []
    assert statuses.get(400, 0) > REQUESTS / 4, statuses  # the corpus does reach the validation
