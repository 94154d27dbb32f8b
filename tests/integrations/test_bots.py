"""Bot accounts: created by a person, API keys only, marked as bots everywhere a user shows, confined to
the rooms they were added to, and gone (keys, sockets, rooms) when deleted."""
import peewee
import pytest
import requests

from confab_client import Client, Forbidden, NotFound, Unauthorized
from storage import migrations
from storage.db import database
from tests.support.harness import POSTGRES_CHAT, bearer, close_code, connect_ws
from tests.support.chat_helpers import ChatClient, new_room, user


POSTGRESQL_CONFIG = POSTGRES_CHAT


def make_bot(server, owner_api, name="helper"):
    response = owner_api.post("/bots", json={"name": name, "display_name": "Helper"})
    assert response.status_code == 201, response.text
    body = response.json()
    return body["bot"], Client(server.base, api_key=body["api_key"]["key"])


def test_a_bot_is_a_user_marked_as_bot_with_its_owner_and_a_key(server):
    (owner, owner_api), (_, other_api) = user(server), user(server)
    bot, bot_client = make_bot(server, owner_api, "deploy")
    assert bot["username"] == "deploy[bot]" and bot["display_name"] == "Helper"
    assert bot["is_bot"] is True and bot["owner_id"] == owner["user"]["id"]
    assert bot_client.me()["id"] == bot["id"] and bot_client.me()["is_bot"] is True
    assert other_api.get(f"/users/{bot['id']}").json()["owner_id"] == owner["user"]["id"]
    assert owner_api.get("/auth/me").json()["is_bot"] is False
    found = other_api.get("/users", params={"q": "deploy"}).json()["items"]
    assert [(u["username"], u["is_bot"]) for u in found] == [("deploy[bot]", True)]
    assert [b["id"] for b in owner_api.get("/bots").json()] == [bot["id"]]
    assert other_api.get("/bots").json() == []
    assert owner_api.post("/bots", json={"name": "deploy"}).status_code == 409
    assert owner_api.post("/bots", json={"name": "bad name!"}).status_code == 400
    assert owner_api.post("/bots", json={"name": "x" * 28}).status_code == 400  # the username holds 32


def test_a_bot_cannot_log_in_with_a_password_nor_create_bots(server):
    _, owner_api = user(server)
    bot, bot_client = make_bot(server, owner_api, "nologin")
    for identifier in (bot["username"], f"{bot['id']}@bots.invalid"):
        response = requests.post(f"{server.base}/api/v1/auth/login", json={"username": identifier, "password": "!"})
        assert response.status_code == 401
    with pytest.raises(Forbidden):
        bot_client.create_bot("child")
    assert requests.post(f"{server.base}/api/v1/auth/register", json={
        "username": "sneaky[bot]", "email": "s@example.com", "password": "correct horse"}).status_code == 400


@pytest.mark.engines("sqlite", "postgresql")
def test_a_bot_added_to_a_room_posts_there_and_is_shown_as_a_bot(server):
    owner, owner_api = user(server)
    room = new_room(owner_api)
    bot, bot_client = make_bot(server, owner_api, "poster")
    watcher = ChatClient(server.ws_base, owner)
    watcher.join(room)
    invited = owner_api.post(f"/rooms/{room}/members", json={"username": "poster[bot]"})
    assert invited.status_code == 201 and invited.json()["user"]["is_bot"] is True
    assert watcher.of_type("user_joined")["user"]["id"] == bot["id"]
    by_rest = bot_client.send_message(room, "over rest")
    with bot_client.chat() as session:
        session.join(room)
        by_ws = session.send_message(room, "over ws")
    for message in (by_rest, by_ws):
        assert message["user"] == {"id": bot["id"], "username": "poster[bot]", "display_name": "Helper",
                                   "is_bot": True}
    frames = [watcher.of_type("new_message")["message"] for _ in range(2)]
    assert [f["user"]["is_bot"] for f in frames] == [True, True]
    listed = owner_api.get(f"/rooms/{room}/members").json()["items"]
    members = {m["user"]["username"]: m["user"]["is_bot"] for m in listed}
    assert members == {owner["user"]["username"]: False, "poster[bot]": True}
    rooms = Client(server.base, access_token=owner["access_token"]).rooms()
    assert [r["last_message"]["user"]["is_bot"] for r in rooms if r["id"] == room] == [True]


@pytest.mark.engines("sqlite", "postgresql")
def test_a_bot_key_cannot_act_outside_its_rooms(server):
    (owner, owner_api), (_, stranger_api) = user(server), user(server)
    mine = new_room(owner_api)
    public, private = new_room(stranger_api), new_room(stranger_api, private=True)
    dm = stranger_api.post(f"/dms/{owner['user']['id']}").json()["id"]
    bot, bot_client = make_bot(server, owner_api, "confined")
    owner_api.post(f"/rooms/{mine}/members", json={"user_id": bot["id"]})
    assert bot_client.send_message(mine, "allowed")["seq"] == 1
    with pytest.raises(Forbidden):
        bot_client.send_message(public, "not a member")
    for room in (private, dm):
        with pytest.raises(NotFound):
            bot_client.send_message(room, "not a member")
        with pytest.raises(NotFound):
            bot_client.history(room)
        with pytest.raises(NotFound):
            bot_client.join_room(room)
    with pytest.raises(Forbidden):
        bot_client.history(public)
    with bot_client.chat() as session:
        with pytest.raises(NotFound):
            session.join(private)
        with pytest.raises(NotFound):
            session.send_message(private, "over ws")
    assert [r["id"] for r in bot_client.rooms()] == [mine]
    assert stranger_api.get(f"/rooms/{private}/messages").json()["items"] == []
    assert stranger_api.get(f"/rooms/{public}/messages").json()["items"] == []


@pytest.mark.engines("sqlite", "postgresql")
def test_deleting_a_bot_revokes_its_keys_closes_its_sockets_and_takes_it_out_of_its_rooms(server):
    (owner, owner_api), (_, other_api) = user(server), user(server)
    room = new_room(owner_api)
    bot, bot_client = make_bot(server, owner_api, "retired")
    second_key = owner_api.post(f"/bots/{bot['id']}/api-keys", json={"name": "spare"})
    assert second_key.status_code == 201
    owner_api.post(f"/rooms/{room}/members", json={"user_id": bot["id"]})
    posted = bot_client.send_message(room, "last words")
    bot_socket = connect_ws(f"{server.ws_base}/ws", bot_client.api_key)
    watcher = ChatClient(server.ws_base, owner)
    watcher.join(room)
    assert other_api.delete(f"/bots/{bot['id']}").status_code == 404  # not theirs
    assert owner_api.delete(f"/bots/{bot['id']}").status_code == 204
    assert close_code(bot_socket) == 1008
    left = watcher.of_type("user_left")
    assert left["user_id"] == bot["id"] and left["room_id"] == room
    for key in (bot_client.api_key, second_key.json()["key"]):
        with pytest.raises(Unauthorized):
            Client(server.base, api_key=key).me()
    assert owner_api.get("/bots").json() == []
    assert owner_api.delete(f"/bots/{bot['id']}").status_code == 404
    assert bot["id"] not in {m["user"]["id"] for m in owner_api.get(f"/rooms/{room}/members").json()["items"]}
    kept = owner_api.get(f"/messages/{posted['id']}").json()  # its messages stay, still by a bot
    assert kept["content"] == "last words" and kept["user"]["is_bot"] is True
    assert owner_api.post(f"/bots/{bot['id']}/api-keys", json={}).status_code == 404
    # a deleted bot cannot be brought back into a room, nor found to be
    assert owner_api.post(f"/rooms/{room}/members", json={"user_id": bot["id"]}).status_code == 404
    assert owner_api.post(f"/rooms/{room}/members", json={"username": "retired[bot]"}).status_code == 404
    assert owner_api.post(f"/dms/{bot['id']}").status_code == 404
    assert owner_api.get("/users", params={"q": "retired"}).json()["items"] == []


#: the user table as migration 1 made it before migration 12 (SQLite cannot drop a column in a foreign key)
_RELEASED_USER = ('CREATE TABLE "user_released" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, '
                  '"username" VARCHAR(32) NOT NULL, "email" VARCHAR(254) NOT NULL, '
                  '"display_name" VARCHAR(64) NOT NULL, '
                  '"password_hash" VARCHAR(255) NOT NULL, "created_at" DATETIME NOT NULL, '
                  '"updated_at" DATETIME NOT NULL, "last_seen" DATETIME)')


def test_the_migration_adds_the_bot_columns_to_an_existing_database(tmp_path):
    """A database made before migration 12 (without these columns, with a user in it) gains them."""
    db, serving = peewee.SqliteDatabase(str(tmp_path / "old.db")), database.obj
    database.initialize(db)
    try:
        migrations.migrate(db, [m for m in migrations.MIGRATIONS if m.version < 12])
        db.execute_sql("INSERT INTO \"user\" (id, username, email, display_name, password_hash, created_at, "
                       "updated_at, is_server_admin) "
                       "VALUES ('u1', 'ana', 'ana@example.com', 'Ana', 'x', '2024-01-01', '2024-01-01', 0)")
        for statement in (_RELEASED_USER, 'INSERT INTO "user_released" SELECT id, username, email, display_name, '
                          'password_hash, created_at, updated_at, last_seen FROM "user"', 'DROP TABLE "user"',
                          'ALTER TABLE "user_released" RENAME TO "user"',
                          'CREATE UNIQUE INDEX "user_username" ON "user" ("username")',
                          'CREATE UNIQUE INDEX "user_email" ON "user" ("email")',
                          'ALTER TABLE "message" DROP COLUMN "display_name"'):
            db.execute_sql(statement)
        assert "bot_owner_id" not in {c.name for c in db.get_columns("user")}
        assert migrations.migrate(db) == migrations.MIGRATIONS[-1].version
        assert {"bot_owner_id", "deactivated_at"} <= {c.name for c in db.get_columns("user")}
        assert "display_name" in {c.name for c in db.get_columns("message")}
        assert "user_bot_owner_id" in {i.name for i in db.get_indexes("user")}
        assert db.table_exists("incoming_webhook")
        assert db.execute_sql('SELECT username, bot_owner_id FROM "user"').fetchall() == [("ana", None)]
    finally:
        db.close()
        database.initialize(serving)  # the module's server goes on with its own database


def test_bot_routes_need_a_login(server):
    assert requests.get(f"{server.base}/api/v1/bots").status_code == 401
    assert requests.post(f"{server.base}/api/v1/bots", json={"name": "anon"},
                         headers=bearer("not-a-token")).status_code == 401
