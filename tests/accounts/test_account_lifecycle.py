"""Password change and profile fields (issue 16, item 1) over real HTTP and sockets: a change needs the
current password, keeps the caller's login and revokes every other one (its access token refused, its
sockets closed with 1008); a profile carries a display name, a status text and an avatar image from the
file store, loadable by anyone through its signed link."""
from __future__ import annotations

import io
from typing import Any

import requests
from PIL import Image

from tests.support.harness import Server, bearer, close_code, connect_ws, register, running_server, ws_request


def login(server: Server, username: str, password: str = "correct horse") -> requests.Response:
    return requests.post(f"{server.base}/api/v1/auth/login", json={"username": username, "password": password})


def change(server: Server, token: str, current: str, new: str) -> requests.Response:
    return requests.post(f"{server.base}/api/v1/auth/password", headers=bearer(token),
                         json={"current_password": current, "password": new})


def test_a_password_change_keeps_this_login_and_ends_every_other(server: Server) -> None:
    here = register(server.base)
    name = here["user"]["username"]
    elsewhere = login(server, name).json()
    socket_here = connect_ws(f"{server.ws_base}/ws", here["access_token"])
    socket_elsewhere = connect_ws(f"{server.ws_base}/ws", elsewhere["access_token"])
    assert change(server, here["access_token"], "correct horse", "battery staple").status_code == 204
    assert close_code(socket_elsewhere) == 1008
    assert requests.get(f"{server.base}/api/v1/auth/me", headers=bearer(elsewhere["access_token"])).status_code == 401
    refresh = requests.post(f"{server.base}/api/v1/auth/refresh", json={"refresh_token": elsewhere["refresh_token"]})
    assert refresh.status_code == 401
    assert ws_request(socket_here, {"type": "ping"}) == {"type": "pong"}
    assert requests.post(f"{server.base}/api/v1/auth/refresh",
                         json={"refresh_token": here["refresh_token"]}).status_code == 200
    assert login(server, name).status_code == 401
    assert login(server, name, "battery staple").status_code == 200
    socket_here.close()


def test_a_wrong_current_password_changes_nothing_and_is_limited(tmp_path) -> None:
    with running_server(tmp_path, rate_limit={"login_account_burst": "2"}) as srv:
        user = register(srv.base)
        for _ in range(2):
            refused = change(srv, user["access_token"], "not it at all", "battery staple")
            assert refused.status_code == 403
            assert refused.json()["error"]["details"]["fields"] == {"current_password": ["wrong password"]}
        assert change(srv, user["access_token"], "correct horse", "battery staple").status_code == 429
        assert login(srv, user["user"]["username"]).status_code == 429  # guesses here count like failed logins
        me = requests.get(f"{srv.base}/api/v1/auth/me", headers=bearer(user["access_token"]))
        assert me.status_code == 200  # and the login that guessed is not signed out


def test_a_new_password_must_be_long_enough_and_api_keys_cannot_change_it(server: Server) -> None:
    user = register(server.base)
    short = change(server, user["access_token"], "correct horse", "short")
    assert short.status_code == 400 and "password" in short.json()["error"]["details"]["fields"]
    key = requests.post(f"{server.base}/api/v1/api-keys", json={"name": "k"},
                        headers=bearer(user["access_token"])).json()["key"]
    assert change(server, key, "correct horse", "battery staple").status_code == 403


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), "teal").save(out, "PNG")
    return out.getvalue()


def upload(server: Server, token: str, content: bytes, content_type: str) -> dict[str, Any]:
    response = requests.post(f"{server.base}/api/v1/upload", headers=bearer(token),
                             files={"file": ("f", content, content_type)})
    assert response.status_code == 201, response.text
    return response.json()


def test_profile_fields_and_an_avatar_others_can_load(server: Server) -> None:
    user, other = register(server.base), register(server.base)
    image = upload(server, user["access_token"], png(), "image/png")
    response = requests.put(f"{server.base}/api/v1/users/me", headers=bearer(user["access_token"]),
                            json={"display_name": "Ana B.", "status_text": "on holiday",
                                  "avatar_file_id": image["file_id"]})
    assert response.status_code == 200, response.text
    assert response.json()["status_text"] == "on holiday" and response.json()["display_name"] == "Ana B."
    seen = requests.get(f"{server.base}/api/v1/users/{user['user']['id']}",
                        headers=bearer(other["access_token"])).json()
    assert seen["status_text"] == "on holiday" and "email" not in seen
    avatar = requests.get(server.base + seen["avatar_url"])  # a signed link: no token needed
    assert avatar.status_code == 200 and avatar.content == png()
    only_status = requests.put(f"{server.base}/api/v1/users/me", headers=bearer(user["access_token"]),
                               json={"status_text": ""}).json()
    assert only_status["display_name"] == "Ana B." and only_status["avatar_url"] is not None
    cleared = requests.put(f"{server.base}/api/v1/users/me", headers=bearer(user["access_token"]),
                           json={"avatar_file_id": None}).json()
    assert cleared["avatar_url"] is None


def test_an_avatar_must_be_an_image_of_ones_own(server: Server) -> None:
    user, other = register(server.base), register(server.base)
    text = upload(server, user["access_token"], b"hello", "text/plain")
    theirs = upload(server, other["access_token"], png(), "image/png")
    for file_id in (text["file_id"], theirs["file_id"], "00000000-0000-0000-0000-000000000000"):
        refused = requests.put(f"{server.base}/api/v1/users/me", headers=bearer(user["access_token"]),
                               json={"avatar_file_id": file_id})
        assert refused.status_code == 400 and "avatar_file_id" in refused.json()["error"]["details"]["fields"]
