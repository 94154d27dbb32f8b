"""A local Web Push service for tests, and what a browser does to subscribe to it."""
from __future__ import annotations

import base64
import json
import os
import time
from typing import Any, Iterator

import http_ece
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from gevent.pywsgi import WSGIServer

from tests.support.chat_helpers import Api, new_room, user


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class PushService:
    """Records what is POSTed to it (path, Host, body, headers); answers 410 on paths containing ``gone``,
    a body that trickles for 20 s on paths containing ``trickle``, else 201. ``tls``: ``keyfile``/``certfile`` for HTTPS."""

    def __init__(self, host: str = "127.0.0.1", **tls: str) -> None:
        self.received: list[dict[str, Any]] = []
        self.server = WSGIServer((host, 0), self._app, log=None, **tls)
        self.server.start()
        self.port = self.server.server_port

    def _app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        self.received.append({"path": environ["PATH_INFO"], "host": environ.get("HTTP_HOST"), "body": body,
                              "headers": {k: v for k, v in environ.items() if k.startswith("HTTP_")}})
        if "trickle" in environ["PATH_INFO"]:
            start_response("201 Created", [])
            return self._trickle()
        start_response("410 Gone" if "gone" in environ["PATH_INFO"] else "201 Created", [("Content-Length", "0")])
        return [b""]

    @staticmethod
    def _trickle() -> Iterator[bytes]:
        """A body that never ends in time: a byte every 0.2 s for 20 s (each read is quick)."""
        for _ in range(100):
            time.sleep(0.2)
            yield b"."

    def endpoint(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def to(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.received if r["path"] == path]

    def wait_for(self, path: str, timeout: float = 8.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(path)
            if found:
                return found[-1]
            time.sleep(0.05)
        raise AssertionError(f"nothing pushed to {path}")

    def close(self) -> None:
        self.server.stop(timeout=1)


def browser_keys() -> tuple[ec.EllipticCurvePrivateKey, bytes, dict[str, str]]:
    """A browser's key pair and auth secret, and the ``keys`` of its subscription (base64url)."""
    private_key, auth = ec.generate_private_key(ec.SECP256R1()), os.urandom(16)
    p256dh = b64url(private_key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))
    return private_key, auth, {"p256dh": p256dh, "auth": b64url(auth)}


def subscribe(api: Api, endpoint: str) -> tuple[ec.EllipticCurvePrivateKey, bytes, dict[str, Any]]:
    """What a browser does after the user opts in: a key pair and an auth secret of its own."""
    private_key, auth, keys = browser_keys()
    response = api.post("/push/subscriptions", json={"endpoint": endpoint, "keys": keys})
    assert response.status_code == 201, response.text
    return private_key, auth, response.json()



def decrypt(pushed: dict[str, Any], private_key: ec.EllipticCurvePrivateKey, auth: bytes) -> dict[str, Any]:
    """What the browser reads from a push it received (RFC 8291, aes128gcm)."""
    return json.loads(http_ece.decrypt(pushed["body"], private_key=private_key, auth_secret=auth, version="aes128gcm"))


class Subscriber:
    """A person with one browser subscribed at ``service`` (``path``/their id), in a room with someone who
    mentions them; ``server`` is anything with a ``base`` URL (in-process server, process, instance)."""

    def __init__(self, server: Any, service: PushService, path: str) -> None:
        (_, self.author), (self.login, self.api) = user(server), user(server)
        self.room = new_room(self.author, name="push")
        assert self.api.post(f"/rooms/{self.room}/join").status_code == 200
        self.service, self.path = service, f"{path}/{self.login['user']['id']}"
        self.private_key, self.auth, self.subscription = subscribe(self.api, service.endpoint(self.path))

    def mention(self, text: str) -> None:
        content = f"@{self.login['user']['username']} {text}"
        sent = self.author.post(f"/rooms/{self.room}/messages", json={"content": content})
        assert sent.status_code in (200, 201), sent.text

    def notifications(self) -> list[dict[str, Any]]:
        """The notifications pushed to this browser, in the order received."""
        return [decrypt(p, self.private_key, self.auth)["notification"] for p in self.service.to(self.path)]

    def pushed(self) -> list[str]:
        """What the mentions pushed to this browser said, in the order received."""
        return [n["snippet"].split(" ", 1)[1] for n in self.notifications()]
