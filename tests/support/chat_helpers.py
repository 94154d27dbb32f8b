"""Helpers for the chat tests (no tests here): a WebSocket client that matches replies by ``ref``
and keeps everything else for later assertions, and a small REST client."""
from __future__ import annotations

import itertools
import json
import time
import uuid
from typing import Any, Callable

import requests
import websocket

from tests.support.harness import bearer, connect_ws, register

_refs = itertools.count(1)


class ChatClient:
    def __init__(self, ws_base: str, login: dict[str, Any]) -> None:
        self.login = login
        self.user_id = login["user"]["id"]
        self.ws = connect_ws(f"{ws_base}/ws", login["access_token"])
        self.backlog: list[dict[str, Any]] = []

    def send(self, frame: dict[str, Any]) -> str:
        ref = frame.setdefault("ref", f"r{next(_refs)}")
        self.ws.send(json.dumps(frame))
        return ref

    def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        self.ws.settimeout(timeout)
        data = self.ws.recv()
        if not data:  # websocket-client hands a close frame (1012 at a graceful stop) over as empty text
            raise websocket.WebSocketConnectionClosedException("closed by the server")
        return json.loads(data)

    def wait_for(self, match: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
        """The first frame (backlog first) that matches; others stay in the backlog."""
        for index, frame in enumerate(self.backlog):
            if match(frame):
                return self.backlog.pop(index)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching frame in {timeout}s; backlog: {self.backlog[-5:]}")
            try:
                frame = self.recv(remaining)
            except websocket.WebSocketTimeoutException:
                continue
            if match(frame):
                return frame
            self.backlog.append(frame)

    def request(self, frame: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        ref = self.send(frame)
        return self.wait_for(lambda f: f.get("ref") == ref, timeout)

    def join(self, room_id: str, since_seq: int | None = None) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "join_room", "room_id": room_id}
        if since_seq is not None:
            frame["since_seq"] = since_seq
        reply = self.request(frame)
        assert reply["type"] == "user_joined", reply
        return reply

    def say(self, room_id: str, content: str, client_msg_id: str | None = None, **extra: Any) -> dict[str, Any]:
        reply = self.request({"type": "send_message", "room_id": room_id, "content": content,
                              "client_msg_id": client_msg_id or uuid.uuid4().hex, **extra})
        assert reply["type"] == "ack", reply
        return reply["message"]

    def of_type(self, frame_type: str, timeout: float = 5.0) -> dict[str, Any]:
        return self.wait_for(lambda f: f["type"] == frame_type, timeout)

    def drain(self) -> list[dict[str, Any]]:
        """Everything up to the pong of a fresh ping (what the server had queued for this socket)."""
        ref = self.send({"type": "ping"})
        self.wait_for(lambda f: f.get("ref") == ref)
        frames, self.backlog = self.backlog, []
        return frames

    def close(self) -> None:
        self.ws.close()


class Api:
    def __init__(self, base: str, login: dict[str, Any]) -> None:
        self.base, self.headers = base, bearer(login["access_token"])

    def __getattr__(self, method: str) -> Callable[..., requests.Response]:
        def call(path: str, **kwargs: Any) -> requests.Response:
            headers = {**self.headers, **kwargs.pop("headers", {})}
            return requests.request(method.upper(), f"{self.base}/api/v1{path}", headers=headers, **kwargs)
        return call


def user(server: Any) -> tuple[dict[str, Any], Api]:
    login = register(server.base)
    return login, Api(server.base, login)


def new_room(api: Api, private: bool = False, name: str = "general") -> str:
    response = api.post("/rooms", json={"name": name, "is_private": private})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def room_with_two_members(server: Any) -> tuple[str, tuple[dict[str, Any], Api], tuple[dict[str, Any], Api]]:
    """Two users; the first creates a public room, the second joins it over REST."""
    first, second = user(server), user(server)
    room = new_room(first[1])
    assert second[1].post(f"/rooms/{room}/join").status_code == 200
    return room, first, second


def connected(server: Any, room: str, *logins: dict[str, Any]) -> list[ChatClient]:
    """One /ws client per login, each joined to ``room``."""
    clients = [ChatClient(server.ws_base, login) for login in logins]
    for client in clients:
        client.join(room)
    return clients
