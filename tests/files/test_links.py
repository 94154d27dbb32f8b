"""Files without tokens in URLs, per-user quotas, and the collection of unreferenced blobs, over real
HTTP: signed links load a file without any token until they expire or their grant goes, ``?token=`` is
not accepted; an upload over the quota is refused before it is stored; the collector deletes blobs no
file refers to (and abandoned uploads), never one in use."""
import os
import time
import uuid

import requests

from domain.file_links import FileLinks
from tests.support.harness import running_server
from tests.support.chat_helpers import room_with_two_members, user
from tests.files.test_files import said_with, upload, uploaded
from tests.support.waiting import wait_for

QUOTA = 50_000


def test_links_are_signed_for_one_file_grant_and_window():
    now = [1_000_000.0]
    links = FileLinks(b"k" * 32, 3600, clock=lambda: now[0])
    url = links.url("f1", "file", "room:r1")
    assert url.startswith("/files/f1?grant=room%3Ar1&expires=")
    query = dict(part.split("=") for part in url.split("?")[1].split("&"))
    expires, sig = query["expires"], query["sig"]
    assert 3600 <= int(expires) - now[0] <= 7200
    assert links.url("f1", "file", "room:r1") == url  # the same link for everyone within the window
    assert links.check("f1", "file", "room:r1", expires, sig) is None
    for file_id, kind, grant in (("f2", "file", "room:r1"), ("f1", "thumbnail", "room:r1"), ("f1", "file", "room:r2"),
                                 ("f1", "file", "user:u1")):
        assert links.check(file_id, kind, grant, expires, sig) == "invalid"
    assert links.check("f1", "file", "room:r1", str(int(expires) + 3600), sig) == "invalid"
    assert links.check("f1", "file", "room:r1", expires, "\udc00" + sig[1:]) == "invalid"
    assert links.check("f1", "file", "room:r1", "²", sig) == "invalid"
    now[0] = float(expires)
    assert links.check("f1", "file", "room:r1", expires, sig) == "expired"
    assert FileLinks(b"x" * 32, 3600, clock=lambda: 0).check("f1", "file", "room:r1", expires, sig) == "invalid"


SERVER_CONFIG = {"files": {"user_quota_bytes": str(QUOTA)}, "chat": {"send_rate": "100"}}


def test_signed_links_work_without_a_token_and_tokens_in_urls_do_not(server):
    room, (alice, _), (bob, _) = room_with_two_members(server)
    body = uploaded(server, alice, "note.txt", b"for the room", "text/plain")
    message = said_with(server, alice, room, "see", body["file_id"])
    link = server.base + message["attachments"][0]["file_url"]
    assert requests.get(link).content == b"for the room"
    tampered = link.replace(f"room%3A{room}", f"user%3A{bob['user']['id']}")
    assert requests.get(tampered).status_code == 404
    for token in (alice["access_token"], bob["access_token"]):
        assert requests.get(f"{server.base}/files/{body['file_id']}", params={"token": token}).status_code == 401
        assert requests.get(f"{server.base}/api/v1/auth/me", params={"token": token}).status_code == 401


def test_uploads_past_the_quota_are_refused_and_nothing_is_stored(server):
    login, _ = user(server)
    blobs_before = sorted(p.name for p in server.confab.services.config.files_path.rglob("*") if p.is_file())
    uploaded(server, login, "one.txt", b"a" * 30_000, "text/plain")
    over = upload(server, login, "two.txt", b"b" * 30_000, "text/plain")
    assert over.status_code == 413
    assert over.json()["error"]["details"] == {"quota_bytes": QUOTA, "used_bytes": 30_000}
    assert upload(server, login, "big.txt", b"c" * 60_000, "text/plain").status_code == 413
    blobs = sorted(p.name for p in server.confab.services.config.files_path.rglob("*") if p.is_file())
    assert len(blobs) == len(blobs_before) + 1
    other, _ = user(server)
    assert upload(server, other, "two.txt", b"b" * 30_000, "text/plain").status_code == 201  # per user


def test_an_expired_link_is_refused_and_a_fresh_one_comes_with_the_message(tmp_path):
    with running_server(tmp_path) as server:
        login, api = user(server)
        body = uploaded(server, login, "a.txt", b"abc", "text/plain")
        links = FileLinks(server.confab.services.auth.derived_key("file links"), 60, clock=lambda: time.time() - 3600)
        stale = server.base + links.url(body["file_id"], "file", f"user:{login['user']['id']}")
        refused = requests.get(stale)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN"
        assert requests.get(server.base + body["file_url"]).content == b"abc"


def _age(path, seconds):
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_the_collector_deletes_only_unreferenced_blobs(tmp_path):
    with running_server(tmp_path, files={"gc_interval_s": "1"}) as server:
        login, _ = user(server)
        kept = uploaded(server, login, "kept.txt", b"referenced bytes", "text/plain")
        root = server.confab.services.config.files_path
        referenced = root / kept["sha256"][:2] / kept["sha256"]
        orphan_digest = uuid.uuid4().hex * 2
        orphan = root / orphan_digest[:2] / orphan_digest
        fresh_digest = uuid.uuid4().hex * 2
        fresh = root / fresh_digest[:2] / fresh_digest
        abandoned = root / ".part-abandoned"
        for path in (orphan, fresh):
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(b"nobody refers to me")
        abandoned.write_bytes(b"half an upload")
        for path, age in ((orphan, 7200), (referenced, 7200), (abandoned, 2 * 86400)):
            _age(path, age)
        wait_for(lambda: not orphan.exists() and not abandoned.exists(), timeout=10, interval=0.1)
        assert referenced.exists() and fresh.exists()  # in use / within the grace period
        assert requests.get(server.base + kept["file_url"]).content == b"referenced bytes"
