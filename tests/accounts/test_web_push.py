"""Web Push (issue 16, item 4) against a local push service: a mention of a person with no socket open
reaches their browser's subscription encrypted per RFC 8291 (the test decrypts it with the subscription's
keys) and signed with the server's VAPID key (generated once into the data folder, 0600); a person online
gets no push; a subscription the push service calls gone (410) is removed."""
from __future__ import annotations

import base64
import json
import os
import time
from typing import Any, Iterator

import http_ece
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from gevent.pywsgi import WSGIServer

from storage.db import reading
from storage.models import PushSubscription
from tests.support.harness import Server, connect_ws, running_server
from tests.support.chat_helpers import Api, new_room, user


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class PushService:
    """Records what is POSTed to it; answers 410 on paths containing ``gone``, else 201."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.server = WSGIServer(("127.0.0.1", 0), self._app, log=None)
        self.server.start()

    def _app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        self.received.append({"path": environ["PATH_INFO"], "body": body,
                              "headers": {k: v for k, v in environ.items() if k.startswith("HTTP_")}})
        start_response("410 Gone" if "gone" in environ["PATH_INFO"] else "201 Created", [("Content-Length", "0")])
        return [b""]

    def endpoint(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def wait_for(self, path: str, timeout: float = 8.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [r for r in self.received if r["path"] == path]
            if found:
                return found[-1]
            time.sleep(0.05)
        raise AssertionError(f"nothing pushed to {path}")


@pytest.fixture(scope="module")
def service() -> Iterator[PushService]:
    pushes = PushService()
    yield pushes
    pushes.server.stop()


pytestmark = pytest.mark.engines("sqlite", "postgresql")
SERVER_CONFIG = {"chat": {"send_rate": "100"}, "webhooks": {"allowed_targets": "127.0.0.1/32"}}


def subscribe(api: Api, endpoint: str) -> tuple[ec.EllipticCurvePrivateKey, bytes, dict[str, Any]]:
    """What a browser does after the user opts in: a key pair and an auth secret of its own."""
    private_key, auth = ec.generate_private_key(ec.SECP256R1()), os.urandom(16)
    p256dh = b64url(private_key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))
    response = api.post("/push/subscriptions", json={"endpoint": endpoint, "keys": {"p256dh": p256dh,
                                                                                    "auth": b64url(auth)}})
    assert response.status_code == 201, response.text
    return private_key, auth, response.json()


def test_a_mention_of_someone_away_is_pushed_encrypted_and_signed(server: Server, service: PushService) -> None:
    (_, author_api), (reader, reader_api) = user(server), user(server)
    room = new_room(author_api, name="push")
    assert reader_api.post(f"/rooms/{room}/join").status_code == 200
    path = f"/push/reader-{reader['user']['id']}"
    private_key, auth, _ = subscribe(reader_api, service.endpoint(path))
    author_api.post(f"/rooms/{room}/messages", json={"content": f"@{reader['user']['username']} look"})
    pushed = service.wait_for(path)
    assert pushed["headers"]["HTTP_CONTENT_ENCODING"] == "aes128gcm"
    assert pushed["headers"]["HTTP_TTL"] == "43200"  # kept 12 h for a device that is off, not dropped at once
    server_key = reader_api.get("/push/key").json()["public_key"]
    assert f"k={server_key}" in pushed["headers"]["HTTP_AUTHORIZATION"].replace(" ", "")
    payload = json.loads(http_ece.decrypt(pushed["body"], private_key=private_key, auth_secret=auth,
                                          version="aes128gcm"))
    assert payload["type"] == "notification"
    assert payload["notification"]["kind"] == "mention" and payload["notification"]["room_id"] == room
    assert payload["notification"]["snippet"] == f"@{reader['user']['username']} look"
    key_file = server.confab.services.config.data_path / "vapid_private.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_nobody_online_is_pushed_and_gone_subscriptions_are_removed(server: Server, service: PushService) -> None:
    (_, author_api), (online, online_api), (gone, gone_api) = user(server), user(server), user(server)
    room = new_room(author_api, name="push2")
    for api in (online_api, gone_api):
        assert api.post(f"/rooms/{room}/join").status_code == 200
    online_path, gone_path = f"/push/online-{online['user']['id']}", f"/push/gone-{gone['user']['id']}"
    subscribe(online_api, service.endpoint(online_path))
    subscribe(gone_api, service.endpoint(gone_path))
    socket = connect_ws(f"{server.ws_base}/ws", online["access_token"])
    author_api.post(f"/rooms/{room}/messages",
                    json={"content": f"@{online['user']['username']} @{gone['user']['username']} hi"})
    service.wait_for(gone_path)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with reading():
            if not PushSubscription.select().where(PushSubscription.user == gone["user"]["id"]).exists():
                break
        time.sleep(0.1)
    else:
        raise AssertionError("the gone subscription is still there")
    assert not [r for r in service.received if r["path"] == online_path]
    socket.close()


def test_subscriptions_are_validated_and_internal_endpoints_refused(tmp_path) -> None:
    with running_server(tmp_path) as srv:  # no allowed targets: 127.0.0.1 is internal
        _, api = user(srv)
        created = api.post("/push/subscriptions", json={
            "endpoint": "http://127.0.0.1:9/x", "keys": {"p256dh": "A" * 87, "auth": "B" * 22}})
        assert created.status_code == 400 and "endpoint" in created.json()["error"]["details"]["fields"]
        bad = api.post("/push/subscriptions", json={"endpoint": "https://push.example.com/x", "keys": {"auth": "x"}})
        assert bad.status_code == 400
        assert api.delete("/push/subscriptions/00000000-0000-0000-0000-000000000000").status_code == 404
        assert requests.get(f"{srv.base}/api/v1/push/key").status_code == 401
