"""Server administration and the audit log (issue 16, item 2) over real HTTP and sockets: the first
account is a server admin, others are FORBIDDEN; an admin lists accounts, suspends one (its sockets close
at once, its logins, refresh tokens and API keys are refused) and reactivates it; security and admin
events land in a durable audit log, paged newest first, with no secret in it."""
from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import requests

from storage import account_admin
from tests.support.harness import (ROOT, Server, bearer, close_code, connect_ws, register, running_server, server_on,
                           ws_request)

PASSWORD = "correct horse"


@pytest.fixture(scope="module")
def admin(server: Server) -> dict[str, Any]:
    first = register(server.base)  # the first account of the server
    assert first["user"]["is_server_admin"] is True
    return first


def api(server: Server, who: dict[str, Any], method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, f"{server.base}/api/v1{path}", headers=bearer(who["access_token"]), **kwargs)


def audit_events(server: Server, admin: dict[str, Any], **params: Any) -> list[dict[str, Any]]:
    response = api(server, admin, "GET", "/admin/audit", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_only_server_admins_administer(server: Server, admin: dict[str, Any]) -> None:
    person = register(server.base)
    assert person["user"]["is_server_admin"] is False
    for method, path in (("GET", "/admin/users"), ("GET", "/admin/audit"),
                         ("POST", f"/admin/users/{admin['user']['id']}/suspend")):
        refused = api(server, person, method, path)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN"
    listed = api(server, admin, "GET", "/admin/users", params={"q": person["user"]["username"]}).json()["items"]
    assert [u["id"] for u in listed] == [person["user"]["id"]] and listed[0]["email"].endswith("@example.com")
    assert api(server, admin, "POST", f"/admin/users/{admin['user']['id']}/suspend").status_code == 409


def test_a_suspension_closes_sockets_and_refuses_every_credential_until_reactivated(
        server: Server, admin: dict[str, Any]) -> None:
    person = register(server.base)
    key = api(server, person, "POST", "/api-keys", json={"name": "k"}).json()["key"]
    by_token = connect_ws(f"{server.ws_base}/ws", person["access_token"])
    by_key = connect_ws(f"{server.ws_base}/ws", key)
    assert ws_request(by_key, {"type": "ping"}) == {"type": "pong"}
    suspended = api(server, admin, "POST", f"/admin/users/{person['user']['id']}/suspend")
    assert suspended.status_code == 200 and suspended.json()["suspended_at"] is not None
    assert close_code(by_token) == 1008 and close_code(by_key) == 1008
    assert api(server, person, "GET", "/auth/me").status_code == 401
    assert requests.get(f"{server.base}/api/v1/auth/me", headers=bearer(key)).status_code == 401
    assert requests.post(f"{server.base}/api/v1/auth/refresh",
                         json={"refresh_token": person["refresh_token"]}).status_code == 401
    login = {"username": person["user"]["username"], "password": PASSWORD}
    refused = requests.post(f"{server.base}/api/v1/auth/login", json=login)
    assert refused.status_code == 403 and "suspended" in refused.json()["error"]["message"]
    wrong = requests.post(f"{server.base}/api/v1/auth/login", json={**login, "password": "not the password"})
    assert wrong.status_code == 401  # a guesser learns nothing about the suspension
    back = api(server, admin, "POST", f"/admin/users/{person['user']['id']}/reactivate")
    assert back.status_code == 200 and back.json()["suspended_at"] is None
    assert requests.post(f"{server.base}/api/v1/auth/login", json=login).status_code == 200
    assert requests.get(f"{server.base}/api/v1/auth/me", headers=bearer(key)).status_code == 200


def test_a_suspension_made_elsewhere_closes_this_instances_sockets(server: Server, admin: dict[str, Any]) -> None:
    person = register(server.base)
    key = api(server, person, "POST", "/api-keys", json={"name": "k"}).json()["key"]
    by_key = connect_ws(f"{server.ws_base}/ws", key)
    assert ws_request(by_key, {"type": "ping"}) == {"type": "pong"}
    account_admin.set_suspended(person["user"]["id"], True)  # what another instance does
    assert close_code(by_key, timeout=5) == 1008
    account_admin.set_suspended(person["user"]["id"], False)


def test_the_audit_log_records_security_events_pages_and_holds_no_secret(
        server: Server, admin: dict[str, Any]) -> None:
    person = register(server.base)
    name = person["user"]["username"]
    requests.post(f"{server.base}/api/v1/auth/login", json={"username": name, "password": "a wrong guess!"})
    key = api(server, person, "POST", "/api-keys", json={"name": "deploy"}).json()
    api(server, person, "DELETE", f"/api-keys/{key['id']}")
    api(server, person, "POST", "/auth/password", json={"current_password": PASSWORD, "password": "battery staple"})
    api(server, admin, "POST", f"/admin/users/{person['user']['id']}/suspend")
    api(server, admin, "POST", f"/admin/users/{person['user']['id']}/reactivate")
    mine = [e for e in audit_events(server, admin, limit=200) if e["target_id"] in (person["user"]["id"], key["id"])
            or e["detail"].get("identifier") == name]
    assert [e["action"] for e in reversed(mine)] == [
        "user.registered", "login", "login.failed", "api_key.created", "api_key.revoked", "password.changed",
        "user.suspended", "user.reactivated"]
    suspension = next(e for e in mine if e["action"] == "user.suspended")
    assert suspension["actor_id"] == admin["user"]["id"] and suspension["client_ip"] == "127.0.0.1"
    assert suspension["request_id"]
    everything = json.dumps(audit_events(server, admin, limit=200))
    for secret in (PASSWORD, "battery staple", "a wrong guess!", key["key"], person["access_token"],
                   person["refresh_token"]):
        assert secret not in everything
    page = api(server, admin, "GET", "/admin/audit", params={"limit": 2}).json()
    second = api(server, admin, "GET", "/admin/audit", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    seen = [e["id"] for e in page["items"] + second["items"]]
    assert seen == [e["id"] for e in audit_events(server, admin, limit=4)]
    only = audit_events(server, admin, action="login.failed")
    assert only and {e["action"] for e in only} == {"login.failed"}
    bad = api(server, admin, "GET", "/admin/audit", params={"cursor": "nonsense"})
    assert bad.status_code == 400 and "cursor" in bad.json()["error"]["details"]["fields"]


def test_create_admin_from_the_command_line_is_audited(tmp_path) -> None:
    with running_server(tmp_path) as srv:
        first = register(srv.base)
        second = register(srv.base)
        assert api(srv, second, "GET", "/admin/users").status_code == 403
        promoted = subprocess.run([sys.executable, str(ROOT / "app.py"), "create-admin", second["user"]["username"],
                                   "--promote", "--data-dir", str(tmp_path)], capture_output=True, text=True,
                                  timeout=60, cwd=ROOT)
        assert promoted.returncode == 0, promoted.stderr
        assert api(srv, second, "GET", "/admin/users").status_code == 200
        granted = audit_events(srv, first, action="admin.granted")
        assert granted[0]["target_id"] == second["user"]["id"] and granted[0]["detail"] == {"via": "cli"}


def test_on_postgresql_too(tmp_path) -> None:
    """Migration 16 and the queries behind suspension, resets and the audit log on the other engine."""
    with server_on("postgresql", tmp_path) as srv:
        first, person = register(srv.base), register(srv.base)
        assert first["user"]["is_server_admin"] and not person["user"]["is_server_admin"]
        chat = connect_ws(f"{srv.ws_base}/ws", person["access_token"])
        assert api(srv, first, "POST", f"/admin/users/{person['user']['id']}/suspend").status_code == 200
        assert close_code(chat) == 1008
        reset = requests.post(f"{srv.base}/api/v1/auth/password-reset", json={"email": person["user"]["email"]})
        assert reset.status_code == 202
        assert api(srv, first, "POST", f"/admin/users/{person['user']['id']}/reactivate").status_code == 200
        assert api(srv, person, "PUT", "/users/me", json={"status_text": "back"}).status_code == 401  # signed out
        assert [e["action"] for e in audit_events(srv, first, limit=3)] == [
            "user.reactivated", "user.suspended", "login"]  # no reset for a suspended account
