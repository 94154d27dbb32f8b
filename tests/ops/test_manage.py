"""The management commands as an operator runs them: ``python app.py <command>`` in a child process, on
real data folders, next to a real server where the command acts on what the server serves."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import gevent
import pytest
import requests

from storage import migrations
from storage.db import close_database, open_database
from tests.support import services
from tests.support import harness
from tests.support.harness import ROOT, ServerProcess, bearer, close_code, connect_ws, register, ws_request

FAST_HASH = {"CONFAB_AUTH_ARGON2_TIME_COST": "1", "CONFAB_AUTH_ARGON2_MEMORY_KIB": "1024",
             "CONFAB_STATSD_ENABLED": "false"}


def cli(*args: str, data_dir: Path, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args, "--data-dir", str(data_dir)], cwd=ROOT,
                          input=stdin, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **FAST_HASH, **env})


def rows(db_path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db_path) as db:
        return db.execute(sql).fetchall()


def login(base: str, username: str, password: str) -> requests.Response:
    return requests.post(f"{base}/api/v1/auth/login", json={"username": username, "password": password})


@pytest.fixture
def server(tmp_path):
    running = ServerProcess(tmp_path / "data", env={**FAST_HASH, "CONFAB_CHAT_SEND_RATE": "100000"})
    running.wait_ready()
    yield running
    running.stop()


def test_migrate_builds_an_empty_data_folder_and_is_idempotent(tmp_path):
    first = cli("migrate", data_dir=tmp_path / "data")
    assert first.returncode == 0, first.stderr
    latest = migrations.MIGRATIONS[-1]
    assert f"applied {latest.version}: {latest.name}" in first.stdout
    assert first.stdout.strip().endswith(f"schema version {latest.version}")
    assert rows(tmp_path / "data" / "confab.db", "SELECT MAX(version) FROM schema_version") == [(latest.version,)]
    again = cli("migrate", data_dir=tmp_path / "data")
    assert again.returncode == 0 and "applied" not in again.stdout and "nothing to do" in again.stdout


def test_migration_10_adds_the_admin_flag_to_a_database_made_without_it(tmp_path):
    """A database that went up to a later version without migration 10 (numbers are reserved per
    branch, so 10 may land after 14): migrate applies it, and the users already there are not admins."""
    data = tmp_path / "data"
    db = open_database(harness.test_config(data))
    try:
        without = [m for m in migrations.MIGRATIONS if m.version != 10]
        assert migrations.migrate(db, without) == migrations.MIGRATIONS[-1].version
        db.execute_sql('ALTER TABLE "user" DROP COLUMN is_server_admin')  # as the code without 10 made it
        db.execute_sql("INSERT INTO \"user\" (id, username, email, display_name, password_hash, created_at, "
                       "updated_at) VALUES ('u1', 'old', 'old@example.com', 'Old', 'x', '2024-01-01', '2024-01-01')")
        assert [m.version for m in migrations.pending(db)] == [10]
    finally:
        close_database()
    refused = cli("create-admin", "old", "--promote", data_dir=data)
    assert refused.returncode == 1 and "without migration(s) 10" in refused.stderr
    done = cli("migrate", data_dir=data)
    assert done.returncode == 0 and done.stdout.startswith("applied 10: users: server-admin flag"), done.stdout
    assert rows(data / "confab.db", 'SELECT username, is_server_admin FROM "user"') == [("old", 0)]


def test_commands_refuse_a_database_that_is_not_migrated(tmp_path):
    done = cli("create-admin", "root", "--email", "root@example.com", "--password-stdin", data_dir=tmp_path / "d",
               stdin="correct horse\n")
    assert done.returncode == 1
    assert "schema version 0" in done.stderr and "python app.py migrate" in done.stderr


def test_create_admin_makes_a_server_admin_who_can_sign_in(tmp_path):
    data = tmp_path / "data"
    assert cli("migrate", data_dir=data).returncode == 0
    short = cli("create-admin", "root", "--email", "root@example.com", "--password-stdin", data_dir=data,
                stdin="short\n")
    assert short.returncode == 1 and "at least 8 characters" in short.stderr
    made = cli("create-admin", "root", "--email", "Root@Example.com", "--password-stdin", data_dir=data,
               stdin="correct horse\n")
    assert made.returncode == 0, made.stderr
    taken = cli("create-admin", "root", "--email", "other@example.com", "--password-stdin", data_dir=data,
                stdin="correct horse\n")
    assert taken.returncode == 1 and "--promote" in taken.stderr
    server = ServerProcess(data, env=FAST_HASH)
    try:
        server.wait_ready()
        assert login(server.base, "root", "correct horse").status_code == 200
        register(server.base, "ana")
    finally:
        server.stop()
    assert cli("create-admin", "ana", "--promote", data_dir=data).returncode == 0
    again = cli("create-admin", "ana", "--promote", data_dir=data)
    assert again.returncode == 0 and "already a server admin" in again.stdout
    admins = rows(data / "confab.db", 'SELECT username, email FROM "user" WHERE is_server_admin ORDER BY username')
    assert admins == [("ana", "ana@example.com"), ("root", "root@example.com")]
    granted = rows(data / "confab.db", "SELECT COUNT(*) FROM audit_event WHERE action = 'admin.granted'")
    assert granted == [(2,)]  # root created, ana promoted once: the repeat changed nothing


def test_reset_password_while_the_server_runs_signs_the_user_out(server):
    tokens = register(server.base, "ana", password="old password")
    ws = connect_ws(f"{server.ws_base}/ws", tokens["access_token"])
    done = cli("reset-password", "ana", "--password-stdin", data_dir=server.data_dir, stdin="new password\n")
    assert done.returncode == 0, done.stderr
    assert "1 sign-in(s) revoked" in done.stdout
    assert close_code(ws) == 1008  # the running server closes the old sign-in's socket
    me = f"{server.base}/api/v1/auth/me"
    assert requests.get(me, headers=bearer(tokens["access_token"])).status_code == 401
    assert login(server.base, "ana", "old password").status_code == 401
    assert login(server.base, "ana", "new password").status_code == 200
    refused = requests.post(f"{server.base}/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refused.status_code == 401
    unknown = cli("reset-password", "nobody", "--password-stdin", data_dir=server.data_dir, stdin="new password\n")
    assert unknown.returncode == 1 and "no user 'nobody'" in unknown.stderr


def test_sessions_are_listed_and_revoked_one_or_all(server):
    first = register(server.base, "ana")
    second = login(server.base, "ana", "correct horse").json()
    register(server.base, "bob")
    listed = cli("sessions", "list", "--user", "ana", "--json", data_dir=server.data_dir)
    assert listed.returncode == 0, listed.stderr
    families = json.loads(listed.stdout)
    assert len(families) == 2 and {f["username"] for f in families} == {"ana"} and all(f["active"] for f in families)
    assert len(json.loads(cli("sessions", "list", "--json", data_dir=server.data_dir).stdout)) == 3
    table = cli("sessions", "list", data_dir=server.data_dir).stdout.splitlines()
    assert table[0].split() == ["family_id", "username", "started_at", "last_refresh_at", "expires_at", "active"]
    assert len(table) == 4
    newest = families[0]["family_id"]  # newest first: the second login
    second_ws, first_ws = (connect_ws(f"{server.ws_base}/ws", t["access_token"]) for t in (second, first))
    assert cli("sessions", "revoke", newest, data_dir=server.data_dir).returncode == 0
    assert close_code(second_ws) == 1008
    assert ws_request(first_ws, {"type": "ping"}) == {"type": "pong"}  # the other sign-in is untouched
    refresh = f"{server.base}/api/v1/auth/refresh"
    assert requests.post(refresh, json={"refresh_token": second["refresh_token"]}).status_code == 401
    rotated = requests.post(refresh, json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200  # the other sign-in goes on
    assert cli("sessions", "revoke", "--user", "ana", data_dir=server.data_dir).returncode == 0
    assert requests.post(refresh, json={"refresh_token": rotated.json()["refresh_token"]}).status_code == 401
    remaining = json.loads(cli("sessions", "list", "--json", data_dir=server.data_dir).stdout)
    assert [f["username"] for f in remaining] == ["bob"]
    ended = json.loads(cli("sessions", "list", "--user", "ana", "--all", "--json", data_dir=server.data_dir).stdout)
    assert len(ended) == 2 and not any(f["active"] for f in ended)


def test_api_keys_are_listed_and_a_revoked_key_is_refused(server):
    token = register(server.base, "bot-owner")["access_token"]
    key = requests.post(f"{server.base}/api/v1/api-keys", json={"name": "ci bot"}, headers=bearer(token)).json()
    me = f"{server.base}/api/v1/auth/me"
    assert requests.get(me, headers=bearer(key["key"])).status_code == 200
    listed = json.loads(cli("api-keys", "list", "--json", data_dir=server.data_dir).stdout)
    assert [(k["id"], k["name"], k["username"]) for k in listed] == [(key["id"], "ci bot", "bot-owner")]
    assert key["key"] not in cli("api-keys", "list", data_dir=server.data_dir).stdout
    bot = connect_ws(f"{server.ws_base}/ws", key["key"])
    assert cli("api-keys", "revoke", key["id"], data_dir=server.data_dir).returncode == 0
    assert requests.get(me, headers=bearer(key["key"])).status_code == 401
    assert close_code(bot) == 1008
    again = cli("api-keys", "revoke", key["id"], data_dir=server.data_dir)
    assert again.returncode == 1 and "no api key" in again.stderr


def test_check_config_reports_each_problem(tmp_path):
    ok = cli("check-config", "--show", data_dir=tmp_path / "data",
             CONFAB_DATABASE_URL="postgresql://confab:s3cret@db.invalid/confab")
    assert ok.returncode == 1
    assert "fail  database: database: cannot connect" in ok.stdout and "s3cret" not in ok.stdout
    assert "database.url = postgresql://confab:[hidden]@db.invalid/confab" in ok.stdout
    bad = cli("check-config", data_dir=tmp_path / "data", CONFAB_CHAT_SEND_RATE="many")
    assert bad.returncode == 2 and "chat.send_rate: expected an integer" in bad.stderr
    redis_down = cli("check-config", "--broker-backend", "redis", "--set", "broker.redis_url=redis://127.0.0.1:1/0",
                     data_dir=tmp_path / "data")
    assert redis_down.returncode == 1 and "fail  broker: cannot reach Redis" in redis_down.stdout
    fresh = cli("check-config", data_dir=tmp_path / "data")
    assert fresh.returncode == 0, fresh.stdout
    assert "created and migrated at first start" in fresh.stdout and fresh.stdout.strip().endswith("configuration ok")


def test_a_backup_taken_while_the_server_writes_restores_into_an_empty_folder(server, tmp_path):
    token = register(server.base, "ana")["access_token"]
    room = requests.post(f"{server.base}/api/v1/rooms", json={"name": "general"}, headers=bearer(token)).json()
    uploaded = requests.post(f"{server.base}/api/v1/upload", headers=bearer(token),
                             files={"file": ("notes.txt", b"kept in the backup", "text/plain")}).json()
    ws = connect_ws(f"{server.ws_base}/ws", token)
    writing = True

    def write() -> int:
        sent = 0
        while writing or sent < 5:
            reply = ws_request(ws, {"type": "send_message", "room_id": room["id"], "content": f"m{sent}",
                                    "client_msg_id": f"c{sent}"})
            assert reply["type"] == "ack", reply
            sent += 1
        return sent

    writer = gevent.spawn(write)
    archive = tmp_path / "backup.tar.gz"
    made = cli("backup", str(archive), data_dir=server.data_dir)
    writing = False
    acknowledged = writer.get(timeout=30)
    ws.close()
    assert made.returncode == 0, made.stderr
    assert f"sqlite database (schema {migrations.MIGRATIONS[-1].version}), 1 file(s)" in made.stdout
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"manifest.json", "confab.db", "secrets/jwt_secret", "secrets/vapid_private.pem",
            f"files/{uploaded['sha256'][:2]}/{uploaded['sha256']}"} == names
    assert cli("backup", str(archive), data_dir=server.data_dir).returncode == 1  # never overwrites
    server.stop()

    occupied = cli("restore", str(archive), data_dir=server.data_dir)
    assert occupied.returncode == 1 and "restore needs an empty place" in occupied.stderr
    restored_dir = tmp_path / "restored"
    restored = cli("restore", str(archive), data_dir=restored_dir)
    assert restored.returncode == 0, restored.stderr
    assert oct((restored_dir / "jwt_secret").stat().st_mode & 0o777) == "0o600"
    again = ServerProcess(restored_dir, env=FAST_HASH)
    try:
        again.wait_ready()
        assert requests.get(f"{again.base}/api/v1/auth/me", headers=bearer(token)).status_code == 200  # same secret
        newest = requests.get(f"{again.base}/api/v1/rooms/{room['id']}/messages?limit=1", headers=bearer(token))
        assert newest.status_code == 200 and newest.json()["items"]
        assert requests.get(f"{again.base}/files/{uploaded['file_id']}", headers=bearer(token)).content == \
            b"kept in the backup"
    finally:
        again.stop()
    seqs = [seq for (seq,) in rows(restored_dir / "confab.db", f"SELECT seq FROM message WHERE room_id = '{room['id']}' "
                                                               "ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1)) and 0 < len(seqs) <= acknowledged  # one moment, no gap


def test_restore_refuses_what_is_not_a_confab_backup(tmp_path):
    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as tar:
        manifest = tmp_path / "manifest.json"
        manifest.write_text(json.dumps({"format": 1, "database": "sqlite"}))
        tar.add(manifest, "manifest.json")
        tar.add(manifest, "../escape")
    done = cli("restore", str(evil), data_dir=tmp_path / "data")
    assert done.returncode == 1 and "unexpected entry in the archive: '../escape'" in done.stderr
    assert not (tmp_path / "escape").exists() and not (tmp_path / "data").exists()
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar")
    assert "cannot read" in cli("restore", str(junk), data_dir=tmp_path / "data").stderr


def test_a_postgresql_backup_carries_files_and_secrets_and_says_how_to_dump(tmp_path):
    services.require_postgres()
    archive = tmp_path / "pg.tar"
    done = cli("backup", str(archive), data_dir=tmp_path / "data", CONFAB_DATABASE_URL=services.POSTGRES_URL)
    assert done.returncode == 0, done.stderr
    assert "pg_dump --format=custom" in done.stdout and "pg_restore" in done.stdout
    with tarfile.open(archive) as tar:
        assert "confab.db" not in tar.getnames()
        assert json.load(tar.extractfile("manifest.json"))["database"] == "postgresql"
    wrong = cli("restore", str(archive), data_dir=tmp_path / "sqlite-target")
    assert wrong.returncode == 1 and "holds a postgresql backup" in wrong.stderr
