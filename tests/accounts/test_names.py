"""A username or an e-mail names one account whatever its case, over real HTTP: case variants are refused
at registration, login, shares, invitations and mentions find the one account; migration 8 resolves the
variants an older database holds (on SQLite and PostgreSQL), reporting each and losing no row. Also the
registration rules around it: the 409 does not tell who holds an e-mail, registration by invitation,
and Argon2 hashes upgraded at login."""
import logging
import sqlite3
import uuid
from contextlib import nullcontext
from datetime import datetime, timedelta

import argon2
import pytest
import requests

from domain.config import build_config
from storage import migrations
from storage.models import AccountRename, Document, DocumentShare, User
from storage.db import close_database, open_database, unit_of_work
from tests.support import services
from tests.support.harness import LogRecords, running_server
from tests.support.chat_helpers import Api, ChatClient, new_room

PASSWORD = "correct horse"
HASHER = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # the tests' server parameters


def _register(base, username, email=None, **extra):
    return requests.post(f"{base}/api/v1/auth/register", json={
        "username": username, "email": email or f"{username.lower()}-{uuid.uuid4().hex[:6]}@example.com",
        "password": PASSWORD, **extra})


def _login(base, identifier, password=PASSWORD):
    key = "email" if "@" in identifier else "username"
    return requests.post(f"{base}/api/v1/auth/login", json={key: identifier, "password": password})


def _fresh_name(prefix="alice"):
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def test_case_variants_are_refused_and_login_by_either_case_reaches_the_one_account(server):
    name = _fresh_name()
    email = f"{name}@Example.com"
    first = _register(server.base, name, email)
    assert first.status_code == 201 and first.json()["email"] == email.lower()
    variant = _register(server.base, name.upper())
    assert variant.status_code == 409
    assert variant.json()["error"]["details"] == {"fields": {"username": ["already taken"]}}
    ids = {_login(server.base, identifier).json()["user"]["id"]
           for identifier in (name, name.upper(), name.capitalize(), email, email.upper())}
    assert ids == {first.json()["id"]}


def test_a_taken_email_is_refused_without_saying_so(server):
    email = f"{_fresh_name('bob')}@example.com"
    assert _register(server.base, _fresh_name("bob"), email).status_code == 201
    again = _register(server.base, _fresh_name("eve"), email.upper())
    assert again.status_code == 409
    error = again.json()["error"]
    assert error["details"] == {} and "mail" not in error["message"]


def _signed_in(server, name):
    login = _login(server.base, name).json()
    return login, Api(server.base, login)


def test_shares_invitations_and_mentions_in_any_case_reach_only_the_one_account(server):
    name = _fresh_name()
    alice = _register(server.base, name).json()
    assert _register(server.base, name.upper()).status_code == 409
    owner_name = _fresh_name("owner")
    _register(server.base, owner_name)
    owner, api = _signed_in(server, owner_name)
    document = api.post("/documents", json={"title": "plans"}).json()["id"]
    share = api.post(f"/documents/{document}/shares", json={"username": name.upper(), "role": "editor"})
    assert share.status_code == 201 and share.json()["user_id"] == alice["id"]
    room = new_room(api, private=True)
    invite = api.post(f"/rooms/{room}/members", json={"username": name.capitalize()})
    assert invite.status_code == 201 and invite.json()["user"]["id"] == alice["id"]
    client = ChatClient(server.ws_base, owner)
    try:
        client.join(room)
        client.say(room, f"hello @{name.upper()}!")
    finally:
        client.close()
    _, alice_api = _signed_in(server, name)
    notifications = alice_api.get("/notifications").json()["items"]
    assert [n["kind"] for n in notifications] == ["mention"]


def test_registration_by_invitation(tmp_path):
    with running_server(tmp_path, auth={"registration": "invite", "invite_code": "let-me-in"}) as server:
        refused = _register(server.base, _fresh_name())
        assert refused.status_code == 403 and "invite_code" in refused.json()["error"]["details"]["fields"]
        assert _register(server.base, _fresh_name(), invite_code="guess").status_code == 403
        assert _register(server.base, _fresh_name(), invite_code="let-me-in").status_code == 201
    with running_server(tmp_path, auth={"registration": "invite"}) as closed:  # no code: nobody
        assert _register(closed.base, _fresh_name(), invite_code="").status_code == 400
        assert _register(closed.base, _fresh_name(), invite_code="x").status_code == 403


def test_argon2_hashes_are_upgraded_at_login_when_the_parameters_change(tmp_path):
    name = _fresh_name()
    with running_server(tmp_path) as server:  # the tests' cheap parameters: t=1, m=1024
        assert _register(server.base, name).status_code == 201

    def stored_hash():
        with sqlite3.connect(tmp_path / "confab.db") as db:
            return db.execute("SELECT password_hash FROM user WHERE username = ?", (name,)).fetchone()[0]

    assert "m=1024,t=1" in stored_hash()
    with running_server(tmp_path, auth={"argon2_time_cost": "2", "argon2_memory_kib": "2048"}) as server:
        assert _login(server.base, name, "wrong password").status_code == 401
        assert "m=1024,t=1" in stored_hash()  # only a login that proved the password rehashes
        assert _login(server.base, name).status_code == 200
        assert "m=2048,t=2" in stored_hash()
        assert _login(server.base, name).status_code == 200


# --- migration 8 on a database that holds case variants -------------------------------------------------

def _old_database(url: str, data_dir) -> None:
    """A database at migration 7 with colliding accounts, each owning something."""
    db = open_database(build_config({"server": {"data_dir": str(data_dir)}, "database": {"url": url}}))
    try:
        assert migrations.migrate(db, [m for m in migrations.MIGRATIONS if m.version <= 7]) == 7
        start = datetime(2024, 1, 1)
        rows = [("alice", "alice@example.com"), ("ALICE", "Alice.Two@example.com"), ("Alice", "ALICE@example.com"),
                ("alice-2", "a2@example.com"), ("bob", "Bob@Example.com"), ("carol", "carol@example.com")]
        with unit_of_work():
            for n, (username, email) in enumerate(rows):
                user = User.create(id=f"00000000-0000-0000-0000-00000000000{n}", username=username, email=email,
                                   display_name=username, password_hash=HASHER.hash(f"pw-{username}"),
                                   created_at=start + timedelta(days=n))
                Document.create(title=f"doc of {username}", owner=user.id)
            DocumentShare.create(document=Document.get(Document.title == "doc of alice").id,
                                 user="00000000-0000-0000-0000-000000000001", role="editor")
    finally:
        close_database()


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_migration_resolves_existing_case_variants_reporting_each_and_losing_nothing(engine, tmp_path):
    sqlite = nullcontext(f"sqlite:///{tmp_path / 'confab.db'}")
    with sqlite if engine == "sqlite" else services.scratch_database("confab_names") as url:
        _old_database(url, tmp_path)
        db = open_database(build_config({"server": {"data_dir": str(tmp_path)}, "database": {"url": url}}))
        with LogRecords(logging.WARNING) as records:
            assert migrations.migrate(db) >= 8
        renamed = {(r.user_id, r.field): (r.old_value, r.new_value, r.kept_by) for r in AccountRename.select()}
        users = {u.id[-1]: (u.username, u.email) for u in User.select()}
        documents = sorted(d.title for d in Document.select())
        shares = [(s.user_id, s.role) for s in DocumentShare.select()]
        close_database()
        kept = "00000000-0000-0000-0000-000000000000"
        assert users == {"0": ("alice", "alice@example.com"), "1": ("ALICE-3", "alice.two@example.com"),
                         "2": ("Alice-4", "00000000-0000-0000-0000-000000000002@renamed.invalid"),
                         "3": ("alice-2", "a2@example.com"), "4": ("bob", "bob@example.com"),
                         "5": ("carol", "carol@example.com")}
        assert renamed == {
            ("00000000-0000-0000-0000-000000000001", "username"): ("ALICE", "ALICE-3", kept),
            ("00000000-0000-0000-0000-000000000002", "username"): ("Alice", "Alice-4", kept),
            ("00000000-0000-0000-0000-000000000002", "email"): (
                "ALICE@example.com", "00000000-0000-0000-0000-000000000002@renamed.invalid", kept)}
        lines = [r for r in records.records if r.getMessage() == "account.renamed"]
        assert len(lines) == 3 and {r.fields["user_id"] for r in lines} == {u for u, _ in renamed}
        assert len(documents) == 6 and shares == [("00000000-0000-0000-0000-000000000001", "editor")]
        with running_server(tmp_path, database={"url": url}) as server:
            for identifier, password, user in [("ALICE", "pw-alice", "0"), ("ALICE-3", "pw-ALICE", "1"),
                                               ("Alice.Two@EXAMPLE.com", "pw-ALICE", "1"), ("alice-4", "pw-Alice", "2"),
                                               ("alice-2", "pw-alice-2", "3"), ("bob@example.com", "pw-bob", "4")]:
                response = _login(server.base, identifier, password)
                assert response.status_code == 200 and response.json()["user"]["id"][-1] == user, identifier
            assert _register(server.base, "CAROL").status_code == 409
            assert _register(server.base, "Bob2", "BOB@example.com").status_code == 409
