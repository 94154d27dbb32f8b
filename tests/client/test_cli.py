"""confab-cli (``python -m confab_client``) as a child process against a real server: login keeps the
token 0600, rooms/send/tail/upload/doc, --json for scripts, and tail resumes after a dropped connection.
Also the example echo bot, run as its README says."""
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import gevent

from confab_client import Client
from tests.support.harness import ROOT, register
from tests.support.tcp_gate import TcpGate
from tests.support.waiting import wait_for


class Cli:
    def __init__(self, config_dir: Path) -> None:
        self.env = {**os.environ, "CONFAB_CONFIG_DIR": str(config_dir)}

    def __call__(self, *args: str, stdin: str = "", ok: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "confab_client", *args], input=stdin, capture_output=True,
                              text=True, env=self.env, timeout=60)
        if ok:
            assert done.returncode == 0, done.stderr
        return done

    def json(self, *args: str, stdin: str = "") -> object:
        return json.loads(self("--json", *args, stdin=stdin).stdout)

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "confab_client", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env)


def logged_in(server, tmp_path, base=None):
    login = register(server.base)
    cli = Cli(tmp_path / "config")
    cli("login", "--server", base or server.base, "--username", login["user"]["username"], "--password-stdin",
        stdin="correct horse\n")
    return cli, Client(server.base, access_token=login["access_token"]), login


def test_login_keeps_the_token_readable_by_the_owner_only(server, tmp_path):
    cli, _, login = logged_in(server, tmp_path)
    path = tmp_path / "config" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    stored = json.loads(path.read_text())
    assert stored["server"] == server.base and stored["access_token"] and stored["refresh_token"]
    wrong = cli("login", "--server", server.base, "--username", login["user"]["username"], "--password-stdin",
                stdin="not it\n", ok=False)
    assert wrong.returncode == 1 and "UNAUTHORIZED" in wrong.stderr
    assert cli("logout").returncode == 0 and not path.exists()
    refused = cli("rooms", ok=False)
    assert refused.returncode == 1 and "not logged in" in refused.stderr


def test_rooms_send_and_tail_with_json_for_scripts(server, tmp_path):
    cli, api, _ = logged_in(server, tmp_path)
    room = api.create_room("ops")["id"]
    assert [r["id"] for r in cli.json("rooms")] == [room]
    assert cli("rooms").stdout.startswith(f"{room}  ops")
    sent = cli.json("send", "ops", "deploy finished")  # by name
    assert sent["seq"] == 1 and sent["content"] == "deploy finished"
    assert cli("send", room, "-", stdin="from stdin\n").stdout.startswith("sent #2")
    lines = cli("tail", "ops", "--since", "0", "--count", "2", "--json").stdout.splitlines()
    assert [json.loads(line)["content"] for line in lines] == ["deploy finished", "from stdin\n"]
    human = cli("tail", room, "--since", "1", "--count", "1").stdout
    assert human.startswith("#2 ") and "from stdin" in human
    missing = cli("send", "no-such-room", "hi", ok=False)
    assert missing.returncode == 1 and missing.stderr.startswith("confab-cli: NOT_FOUND")


def test_tail_resumes_after_a_dropped_connection(server, tmp_path):
    gate = TcpGate(server.port)
    try:
        cli, api, _ = logged_in(server, tmp_path, base=gate.base)
        room = api.create_room("live")["id"]
        tail = cli.popen("--json", "tail", room, "--count", "4")
        wait_for(lambda: api.members(room) and _has_socket(server, api), timeout=20, interval=0.1)
        api.send_message(room, "one")
        first = _line(tail)
        gate.cut()  # the CLI's socket drops; two messages go by while it is away
        api.send_message(room, "two")
        api.send_message(room, "three")
        gevent.sleep(0.3)
        gate.reopen()
        api.send_message(room, "four")
        rest = [_line(tail) for _ in range(3)]
        assert tail.wait(20) == 0, tail.stderr.read()
    finally:
        gate.close()
    assert [(m["seq"], m["content"]) for m in [first, *rest]] == [(1, "one"), (2, "two"), (3, "three"), (4, "four")]


def _has_socket(server, api):
    """True once the CLI's session is connected (the user shows as online)."""
    return api.me()["id"] in server.confab.services.chat.presence.online()


def _line(process):
    with gevent.Timeout(20, AssertionError("tail printed nothing in time")):
        return json.loads(process.stdout.readline())


def test_upload_posts_a_file_into_a_room(server, tmp_path):
    cli, api, _ = logged_in(server, tmp_path)
    room = api.create_room("files")["id"]
    notes = tmp_path / "notes.txt"
    notes.write_text("hello file\n")
    uploaded = cli.json("upload", str(notes))
    assert uploaded["file_name"] == "notes.txt" and uploaded["content_type"] == "text/plain"
    message = cli.json("upload", str(notes), "--room", room, "--text", "see attached")
    assert message["content"] == "see attached" and message["attachments"][0]["file_name"] == "notes.txt"
    assert api.download(message["attachments"][0]["file_id"]) == b"hello file\n"


def test_doc_cat_and_edit_apply_a_crdt_diff(server, tmp_path):
    cli, api, _ = logged_in(server, tmp_path)
    document = api.create_document("plan")
    assert cli.json("doc", "edit", document["id"], stdin="line one\nline three\n")["version"] >= 1
    with api.open_document(document["id"]) as watcher:  # someone is editing meanwhile
        watcher.wait_for(lambda text: text == "line one\nline three\n")
        cli("doc", "edit", document["id"], stdin="line one\nline two\nline three\n")
        watcher.wait_for(lambda text: text == "line one\nline two\nline three\n")
        cli("doc", "edit", document["id"], "--append", stdin="line four\n")
        watcher.wait_for(lambda text: text.endswith("line four\n"))
    assert cli("doc", "cat", document["id"]).stdout == "line one\nline two\nline three\nline four\n\n"
    viewer_cli, viewer, _ = logged_in(server, tmp_path / "viewer")
    api.request("POST", f"/api/v1/documents/{document['id']}/shares",
                json={"username": viewer.me()["username"], "role": "viewer"})
    refused = viewer_cli("doc", "edit", document["id"], stdin="mine now", ok=False)
    assert refused.returncode == 1 and "FORBIDDEN" in refused.stderr
    assert api.document(document["id"])["content"] == "line one\nline two\nline three\nline four\n"


def test_the_echo_bot_answers(server, tmp_path):
    login = register(server.base)
    person = Client(server.base, access_token=login["access_token"])
    room, later = person.create_room("bots")["id"], person.create_room("later")["id"]
    created = person.create_bot("echo")
    person.invite(room, username="echo[bot]")
    env = {**os.environ, "CONFAB_URL": server.base, "CONFAB_API_KEY": created["api_key"]["key"]}
    bot = subprocess.Popen([sys.executable, str(ROOT / "client" / "examples" / "echo_bot.py")], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: created["bot"]["id"] in server.confab.services.chat.presence.online(), timeout=20,
                 interval=0.1)
        asked = person.send_message(room, "!echo hello there")
        person.send_message(room, "no command here")
        answer = wait_for(lambda: [m for m in person.history(room) if m["user"]["is_bot"]], timeout=10,
                          interval=0.1)
        assert [(m["content"], m["reply_to_id"]) for m in answer] == [("hello there", asked["id"])]
        person.invite(later, user_id=created["bot"]["id"])  # a room it is added to while running
        gevent.sleep(0.5)
        person.send_message(later, "!echo again")
        wait_for(lambda: [m["content"] for m in person.history(later)] == ["!echo again", "again"], timeout=10,
                 interval=0.1)
    finally:
        bot.kill()
        bot.wait(10)
    assert len([m for m in person.history(room) if m["user"]["is_bot"]]) == 1
