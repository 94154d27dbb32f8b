"""Auth per docs/protocol.md over real HTTP: register, login, refresh rotation, logout, me, API keys."""
import os
import sqlite3
import stat

import requests

from tests.support.harness import bearer, register


def test_register_login_me_round_trip(server):
    body = register(server.base, "ana_" + os.urandom(3).hex())
    assert set(body) >= {"access_token", "refresh_token", "expires_in", "user"}
    me = requests.get(f"{server.base}/api/v1/auth/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["id"] == body["user"]["id"] and me.json()["created_at"].endswith("Z")


def test_login_by_email_and_wrong_password_in_error_format(server):
    body = register(server.base)
    email = body["user"]["email"]
    assert requests.post(f"{server.base}/api/v1/auth/login",
                         json={"email": email, "password": "correct horse"}).status_code == 200
    wrong = requests.post(f"{server.base}/api/v1/auth/login", json={"email": email, "password": "nope"},
                          headers={"X-Request-ID": "req-42"})
    assert wrong.status_code == 401
    assert wrong.headers["X-Request-ID"] == "req-42"
    assert wrong.json() == {"error": {"code": "UNAUTHORIZED", "message": "invalid username/email or password",
                                      "details": {}, "request_id": "req-42"}}


def test_malformed_body_gets_400_with_field_details_and_changes_nothing(server):
    response = requests.post(f"{server.base}/api/v1/auth/register",
                             json={"username": "x", "email": "not-an-email", "password": "secret123"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "BAD_REQUEST"
    assert set(error["details"]["fields"]) == {"username", "email"}
    assert requests.post(f"{server.base}/api/v1/auth/login",
                         json={"username": "x", "password": "secret123"}).status_code == 401


def test_short_password_and_duplicate_username(server):
    short = requests.post(f"{server.base}/api/v1/auth/register",
                          json={"username": "shorty", "email": "s@example.com", "password": "123"})
    assert short.status_code == 400 and "password" in short.json()["error"]["details"]["fields"]
    body = register(server.base)
    again = requests.post(f"{server.base}/api/v1/auth/register",
                          json={"username": body["user"]["username"], "email": "other@example.com",
                                "password": "correct horse"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "CONFLICT"


def test_refresh_rotates_and_reuse_revokes_the_family(server):
    body = register(server.base)
    first = requests.post(f"{server.base}/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert first.status_code == 200
    second_token = first.json()["refresh_token"]
    assert second_token != body["refresh_token"]
    reused = requests.post(f"{server.base}/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert reused.status_code == 401
    # the replay revoked the whole family: the legitimate successor is dead too
    assert requests.post(f"{server.base}/api/v1/auth/refresh",
                         json={"refresh_token": second_token}).status_code == 401


def test_logout_revokes_the_refresh_token(server):
    body = register(server.base)
    out = requests.post(f"{server.base}/api/v1/auth/logout", json={"refresh_token": body["refresh_token"]},
                        headers=bearer(body["access_token"]))
    assert out.status_code == 204
    assert requests.post(f"{server.base}/api/v1/auth/refresh",
                         json={"refresh_token": body["refresh_token"]}).status_code == 401


def test_every_route_checks_the_token(server):
    for method, path in [("GET", "/api/v1/auth/me"), ("GET", "/api/v1/users"), ("GET", "/api/v1/api-keys"),
                         ("POST", "/api/v1/api-keys"), ("PUT", "/api/v1/users/me")]:
        for headers in ({}, bearer("garbage"), bearer("cfk_unknown")):
            response = requests.request(method, server.base + path, headers=headers, json={})
            assert response.status_code == 401, (method, path, headers)
            assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_api_key_shown_once_works_as_bearer_and_dies_when_deleted(server):
    body = register(server.base)
    created = requests.post(f"{server.base}/api/v1/api-keys", json={"name": "bot"},
                            headers=bearer(body["access_token"]))
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("cfk_")
    listed = requests.get(f"{server.base}/api/v1/api-keys", headers=bearer(body["access_token"])).json()
    assert [k["name"] for k in listed] == ["bot"] and "key" not in listed[0] and listed[0]["last_used_at"] is None
    me = requests.get(f"{server.base}/api/v1/auth/me", headers=bearer(key))
    assert me.json()["id"] == body["user"]["id"]
    listed = requests.get(f"{server.base}/api/v1/api-keys", headers=bearer(body["access_token"])).json()
    assert listed[0]["last_used_at"].endswith("Z")
    assert requests.delete(f"{server.base}/api/v1/api-keys/{created.json()['id']}",
                           headers=bearer(body["access_token"])).status_code == 204
    assert requests.get(f"{server.base}/api/v1/auth/me", headers=bearer(key)).status_code == 401


def test_users_search_pages_and_profile_update(server):
    body = register(server.base, "zed_" + os.urandom(3).hex())
    headers = bearer(body["access_token"])
    assert requests.put(f"{server.base}/api/v1/users/me", json={"display_name": "Zed"},
                        headers=headers).json()["display_name"] == "Zed"
    page = requests.get(f"{server.base}/api/v1/users", params={"q": "zed_", "limit": 1}, headers=headers).json()
    assert [u["username"] for u in page["items"]] == [body["user"]["username"]]
    assert "email" not in page["items"][0]
    found = requests.get(f"{server.base}/api/v1/users/{body['user']['id']}", headers=headers)
    assert found.json()["display_name"] == "Zed"
    assert requests.get(f"{server.base}/api/v1/users/nope", headers=headers).status_code == 404


def test_passwords_are_hashed_and_the_secret_file_is_private(server):
    register(server.base, "hashcheck", password="plaintext-canary")
    data_dir = server.confab.services.config.data_path
    with sqlite3.connect(data_dir / "confab.db") as db:
        (stored,) = db.execute("SELECT password_hash FROM user WHERE username = 'hashcheck'").fetchone()
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert stored.startswith("$argon2id$") and "plaintext-canary" not in stored
    mode = stat.S_IMODE((data_dir / "jwt_secret").stat().st_mode)
    assert mode == 0o600
