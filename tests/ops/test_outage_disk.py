"""The disk fills under SQLite: a real ``python app.py`` whose database and files live on a tmpfs of a
few MiB (a real ENOSPC from the kernel, not an injected one), which a ballast file fills while a chat
sender, a JSON document editor and a Yjs client work. Writes are answered UNAVAILABLE (REST 503, ``/ws``
error frames; a Yjs client's socket is closed and its edit stays in the client), reads keep working,
and once the ballast is gone writes succeed again and the Yjs client's edit is stored when it
reconnects. Nothing acknowledged is lost: checked on the running server and after a SIGKILL and a
restart on the same file."""
from __future__ import annotations

import sqlite3
import threading
import time
from typing import ContextManager

import pytest
import requests

from tests.support.chat_load import Sender, assert_stored_exactly_once, error_window, first_ack_after
from tests.support.doc_load import DocEditor, assert_edits_stored_once
from tests.support.harness import ServerProcess, bearer, register, serving
from tests.support.private_services import SmallDisk
from tests.files.test_files import png
from tests.support.chat_helpers import Api, ChatClient, new_room
from tests.support.waiting import wait_for
from tests.support.yjs_client import YjsClient

DISK_MIB = 12
PNG = png(64, 48)
FULL_FOR_S = 5.0
LIMITS = {"CONFAB_CHAT_SEND_RATE": "100000", "CONFAB_RATE_LIMIT_USER_BURST": "100000",
          "CONFAB_RATE_LIMIT_IP_BURST": "100000", "CONFAB_RATE_LIMIT_IP_RATE_PER_S": "10000",
          "CONFAB_RATE_LIMIT_USER_RATE_PER_S": "10000"}
pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def disk():
    small = SmallDisk(DISK_MIB)
    try:
        yield small
    finally:
        small.close()


def started(root, disk: SmallDisk) -> ContextManager[ServerProcess]:
    return serving(root, env={"CONFAB_DATABASE_URL": f"sqlite:///{disk.path}/confab.db",
                              "CONFAB_FILES_DIR": str(disk.path / "files"), **LIMITS})


def test_a_full_disk_refuses_writes_keeps_reads_and_recovers(tmp_path, disk):
    with started(tmp_path / "confab", disk) as server:
        ana, bob = register(server.base), register(server.base)
        api = Api(server.base, ana)
        room = new_room(api, name="on a small disk")
        document = api.post("/documents", json={"title": "on a small disk"}).json()["id"]
        picture = api.post("/upload", files={"file": ("dot.png", PNG, "image/png")}).json()
        stop = threading.Event()
        sender = Sender(server, server, ana, [room], stop, retry_cap_s=0.5, pause_s=0.05)
        editor = DocEditor(server, bob["access_token"], document, stop)
        assert api.post(f"/documents/{document}/shares", json={"user_id": bob["user"]["id"], "role": "editor"}
                        ).status_code == 201
        for thread in (sender, editor):
            thread.start()
        wait_for(lambda: len(sender.acked) >= 10 and len(editor.acked) >= 10, timeout=20)
        yjs = YjsClient(f"{server.ws_base}/yjs/{document}", ana["access_token"])
        wait_for(lambda: yjs.synced, timeout=10)

        filled_at = time.monotonic()
        disk.fill()
        refusals = lambda client: sum(o.kind == "UNAVAILABLE" and o.at > filled_at for o in client.outcomes)  # noqa
        wait_for(lambda: refusals(sender) >= 3 and refusals(editor) >= 3, timeout=60)
        # writes are refused with retry advice, over REST too; a Yjs client's socket is closed
        created = api.post("/rooms", json={"name": "no room for it"})
        assert created.status_code == 503 and created.json()["error"]["code"] == "UNAVAILABLE"
        assert int(created.headers["Retry-After"]) >= 1
        upload = api.post("/upload", files={"file": ("big.txt", b"x" * 512 * 1024, "text/plain")})
        assert upload.status_code == 503 and upload.json()["error"]["code"] == "UNAVAILABLE"
        yjs.insert(0, "[yjs while full]")
        wait_for(lambda: yjs.closed_with is not None, timeout=10)
        login = requests.post(f"{server.base}/api/v1/auth/login",
                              json={"username": ana["user"]["username"], "password": "correct horse"})
        assert login.status_code == 503  # a refresh token cannot be stored
        # reads keep working
        history = api.get(f"/rooms/{room}/messages", params={"limit": 5})
        assert history.status_code == 200 and history.json()["items"]
        assert api.get(f"/documents/{document}").status_code == 200
        assert requests.get(f"{server.base}{picture['file_url']}", headers=bearer(ana["access_token"])).content == PNG
        time.sleep(max(0.0, FULL_FOR_S - (time.monotonic() - filled_at)))  # the load goes on meanwhile

        disk.free()
        freed_at = time.monotonic()
        counts = len(sender.acked), len(editor.acked)
        wait_for(lambda: len(sender.acked) >= counts[0] + 10 and len(editor.acked) >= counts[1] + 10, timeout=30)
        yjs.connect()  # what y-websocket does after a close: reconnect and sync, its edit included
        wait_for(lambda: "[yjs while full]" in api.get(f"/documents/{document}").json()["content"], timeout=10)
        assert api.post("/rooms", json={"name": "room again"}).status_code == 201
        stop.set()
        for thread in (sender, editor):
            thread.join(40)
        assert sender.error is None and editor.error is None, (repr(sender.error), repr(editor.error))
        yjs.close()

        replies = [o for client in (sender, editor) for o in client.outcomes
                   if o.kind not in ("ack", "reconnect") and o.op in ("send_message", "edit_document")]
        assert replies and all(o.kind == "UNAVAILABLE" and o.retry_after_s for o in replies), replies
        checked = _check_durable(server, ana, bob, room, document, sender, editor)
        windows = {name: error_window(c.outcomes) for name, c in (("chat", sender), ("document", editor))}
        recovered = {name: first_ack_after(c.outcomes, freed_at) - freed_at
                     for name, c in (("chat", sender), ("document", editor))}
        print(f"\nDisk full for {freed_at - filled_at:.1f} s. Errors (s after filling): "
              + ", ".join(f"{n} {w[0] - filled_at:.1f}–{w[1] - filled_at:.1f}" for n, w in windows.items() if w)
              + "; first ack after space returned: " + ", ".join(f"{n} {t:.2f} s" for n, t in recovered.items())
              + f"; Yjs socket closed with {yjs.closed_with}; acked {len(sender.acked)} messages, "
              + f"{len(editor.acked)} edits, {checked} versions")

    # SIGKILLed just now: the same file, opened by a new process, holds everything acknowledged
    assert sqlite3.connect(disk.path / "confab.db").execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with started(tmp_path / "confab", disk) as again:
        _check_durable(again, ana, bob, room, document, sender, editor)


def _check_durable(server, ana, bob, room, document, sender, editor) -> int:
    assert_stored_exactly_once(server, ana, [room], [sender])
    return assert_edits_stored_once(server, bob["access_token"], document, editor)


def test_a_yjs_client_whose_update_cannot_be_stored_is_told_to_try_again_later(tmp_path, disk):
    with started(tmp_path / "confab", disk) as server:
        ana = register(server.base)
        document = Api(server.base, ana).post("/documents", json={"title": "y"}).json()["id"]
        yjs = YjsClient(f"{server.ws_base}/yjs/{document}", ana["access_token"])
        wait_for(lambda: yjs.synced, timeout=10)
        disk.fill()
        yjs.insert(0, "no room for this")
        wait_for(lambda: yjs.closed_with is not None, timeout=10)
        disk.free()
        assert yjs.closed_with == 1013


def test_ready_comes_back_once_space_returns_without_more_traffic(tmp_path, disk):
    with started(tmp_path / "confab", disk) as server:
        ana = register(server.base)
        room = new_room(Api(server.base, ana), name="one refused message")
        client = ChatClient(server.ws_base, ana)
        client.join(room)
        disk.fill()
        refused = client.request({"type": "send_message", "room_id": room, "content": "x", "client_msg_id": "x"})
        assert refused["type"] == "error" and refused["error"]["code"] == "UNAVAILABLE"
        disk.free()
        wait_for(lambda: requests.get(f"{server.base}/ready", timeout=5).status_code == 200, timeout=6)
        client.close()
