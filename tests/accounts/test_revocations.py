"""Revocations close sockets and refuse tokens, wherever they were made (issue: abuse resistance, item
10), over real sockets: logout closes that login's sockets and kills its access token at once; a
revocation made by another process (another instance, the CLI) reaches this one within seconds; a
/yjs socket closes when its access token expires, like a /ws one."""
from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import requests

from storage import accounts
from tests.support.harness import Server, bearer, close_code, connect_ws, ws_request
from tests.support.harness import register as register_user
from tests.support.yjs_client import YjsClient, wait_until

SECRET = "s" * 64


SERVER_CONFIG = {"auth": {"jwt_secret": SECRET}}


def login(server: Server, user: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(f"{server.base}/api/v1/auth/login",
                             json={"username": user["user"]["username"], "password": "correct horse"})
    return response.json()


def new_document(server: Server, token: str) -> str:
    return requests.post(f"{server.base}/api/v1/documents", json={"title": "d"}, headers=bearer(token)).json()["id"]


def test_logout_closes_that_logins_sockets_and_its_token_at_once(server: Server) -> None:
    first = register_user(server.base)
    second = login(server, first)  # the same user, signed in elsewhere
    doc = new_document(server, first["access_token"])
    chat = connect_ws(f"{server.ws_base}/ws", first["access_token"])
    assert ws_request(chat, {"type": "ping"}) == {"type": "pong"}
    editor = YjsClient(f"{server.ws_base}/yjs/{doc}", first["access_token"])
    wait_until(lambda: editor.synced)
    editor._reader.kill()
    elsewhere = connect_ws(f"{server.ws_base}/ws", second["access_token"])
    response = requests.post(f"{server.base}/api/v1/auth/logout", headers=bearer(first["access_token"]),
                             json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 204
    assert close_code(chat) == 1008 and close_code(editor.ws) == 1008
    refused = requests.get(f"{server.base}/api/v1/auth/me", headers=bearer(first["access_token"]))
    assert refused.status_code == 401 and refused.json()["error"]["message"] == "access token revoked"
    assert ws_request(elsewhere, {"type": "ping"}) == {"type": "pong"}  # the other login lives on
    assert requests.get(f"{server.base}/api/v1/auth/me", headers=bearer(second["access_token"])).status_code == 200
    elsewhere.close()


def test_a_revocation_made_by_another_process_reaches_this_instance(server: Server) -> None:
    user = register_user(server.base)
    key = requests.post(f"{server.base}/api/v1/api-keys", json={"name": "bot"},
                        headers=bearer(user["access_token"])).json()
    bot = connect_ws(f"{server.ws_base}/ws", key["key"])
    assert ws_request(bot, {"type": "ping"}) == {"type": "pong"}
    person = connect_ws(f"{server.ws_base}/ws", user["access_token"])
    assert ws_request(person, {"type": "ping"}) == {"type": "pong"}
    accounts.revoke_api_key(user["user"]["id"], key["id"])  # what another instance or the CLI does
    assert close_code(bot, timeout=5) == 1008
    accounts.revoke_all_refresh_tokens(user["user"]["id"])  # a logout everywhere, done elsewhere
    assert close_code(person, timeout=5) == 1008
    assert requests.get(f"{server.base}/api/v1/auth/me", headers=bearer(user["access_token"])).status_code == 401


def test_a_yjs_socket_closes_when_its_access_token_expires(server: Server) -> None:
    user = register_user(server.base)
    doc = new_document(server, user["access_token"])
    now = int(time.time())
    short = jwt.encode({"sub": user["user"]["id"], "name": user["user"]["username"], "iat": now, "exp": now + 2,
                        "jti": uuid.uuid4().hex, "typ": "access"}, SECRET, algorithm="HS256")
    editor = YjsClient(f"{server.ws_base}/yjs/{doc}", short)
    wait_until(lambda: editor.synced)
    editor._reader.kill()
    started = time.monotonic()
    assert close_code(editor.ws, timeout=6) == 1008
    assert time.monotonic() - started < 5
