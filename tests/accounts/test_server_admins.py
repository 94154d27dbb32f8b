"""Who is a server admin (issue 16), over real HTTP on both engines: admins grant and revoke the role with
``PUT /admin/users/{id}/server-admin`` (audited ``admin.granted`` / ``admin.revoked``), and the last admin
who can sign in is never revoked, suspended nor deleted by themselves (CONFLICT)."""
from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from domain.errors import Conflict
from storage import account_admin
from tests.support.chat_helpers import Api
from tests.support.harness import Server, register

pytestmark = pytest.mark.engines("sqlite", "postgresql")


def promote(api: Api, user_id: str, is_admin: Any) -> requests.Response:
    return api.put(f"/admin/users/{user_id}/server-admin", json={"is_server_admin": is_admin})


def events(api: Api, action: str) -> list[dict[str, Any]]:
    response = api.get("/admin/audit", params={"action": action, "limit": 200})
    assert response.status_code == 200, response.text
    return response.json()["items"]


@pytest.fixture(scope="module")
def first(server: Server) -> dict[str, Any]:
    login = register(server.base)  # the first account of the server
    assert login["user"]["is_server_admin"] is True
    return login


def test_admins_grant_and_revoke_the_role_and_each_change_is_audited(server: Server, first: dict[str, Any]) -> None:
    admin, person = Api(server.base, first), register(server.base)
    person_api, person_id = Api(server.base, person), person["user"]["id"]
    refused = promote(person_api, person_id, True)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN"
    granted = promote(admin, person_id, True)
    assert granted.status_code == 200 and granted.json()["is_server_admin"] is True
    assert promote(admin, person_id, True).status_code == 200  # again: nothing changes, nothing audited
    assert person_api.get("/admin/users").status_code == 200
    revoked = promote(person_api, first["user"]["id"], False)  # the new admin revokes the first one
    assert revoked.status_code == 200 and revoked.json()["is_server_admin"] is False
    assert admin.get("/admin/users").status_code == 403  # at once, with the same token
    assert promote(person_api, first["user"]["id"], True).status_code == 200  # and back
    assert promote(admin, person_id, False).status_code == 200
    assert person_api.get("/admin/audit").status_code == 403
    changes = [(e["action"], e["actor_id"], e["target_id"])
               for e in events(admin, "admin.granted") + events(admin, "admin.revoked")
               if e["target_id"] in (person_id, first["user"]["id"])]
    assert sorted(changes) == sorted([("admin.granted", first["user"]["id"], person_id),
                                      ("admin.revoked", person_id, first["user"]["id"]),
                                      ("admin.granted", person_id, first["user"]["id"]),
                                      ("admin.revoked", first["user"]["id"], person_id)])


def test_the_last_admin_who_can_sign_in_is_never_revoked_nor_suspended(server: Server, first: dict[str, Any]) -> None:
    admin, admin_id = Api(server.base, first), first["user"]["id"]
    others = [u for u in admin.get("/admin/users", params={"limit": 200}).json()["items"]
              if u["is_server_admin"] and u["id"] != admin_id]
    assert others == []  # the first account is the only admin here
    alone = promote(admin, admin_id, False)
    assert alone.status_code == 409 and alone.json()["error"]["code"] == "CONFLICT"
    with pytest.raises(Conflict):
        account_admin.set_suspended(admin_id, True)  # what the command line or another instance could try
    person = register(server.base)
    assert promote(admin, person["user"]["id"], True).status_code == 200
    assert admin.post(f"/admin/users/{person['user']['id']}/suspend").status_code == 200
    suspended_only = promote(admin, admin_id, False)  # the other admin cannot sign in: still the last one
    assert suspended_only.status_code == 409
    leaving = admin.post("/users/me/deletion", json={"password": "correct horse", "documents": "delete"})
    assert leaving.status_code == 409 and "another user admin" in leaving.json()["error"]["message"]
    assert admin.get("/auth/me").status_code == 200  # nothing happened
    assert admin.post(f"/admin/users/{person['user']['id']}/reactivate").status_code == 200
    assert promote(admin, admin_id, False).status_code == 200  # now someone is left
    again = requests.post(f"{server.base}/api/v1/auth/login",  # the suspension signed them out
                          json={"username": person["user"]["username"], "password": "correct horse"})
    person_api = Api(server.base, again.json())
    assert promote(person_api, admin_id, True).status_code == 200
    assert promote(person_api, person["user"]["id"], False).status_code == 200


def test_bad_requests_unknown_users_and_bots(server: Server, first: dict[str, Any]) -> None:
    admin = Api(server.base, first)
    bad = promote(admin, first["user"]["id"], "yes")
    assert bad.status_code == 400 and "is_server_admin" in bad.json()["error"]["details"]["fields"]
    assert promote(admin, str(uuid.uuid4()), True).status_code == 404
    bot = admin.post("/bots", json={"name": "helper"}).json()["bot"]
    refused = promote(admin, bot["id"], True)
    assert refused.status_code == 409 and "bot" in refused.json()["error"]["message"]
