"""Files in a cluster: with ``files.backend = postgresql`` a file uploaded through one instance downloads
(and thumbnails) through another, stored once, chunked, with ETag/304 and byte ranges; with the local
backend an instance whose folder is not the others' refuses to start with one line."""
from __future__ import annotations

import hashlib
import os
import time
import uuid

import psycopg
import requests

from storage.blob_postgres import CHUNK_BYTES
from tests.support.cluster import cluster, require_cluster_services
from tests.support.harness import ServerProcess, bearer, register, running_server
from tests.support.chat_helpers import user
from tests.files.test_files import png, uploaded
from tests.storage.test_postgres import pg_url  # noqa: F401 — a fresh database for the in-process server
from tests.support.waiting import wait_for

require_cluster_services()


def get(instance: ServerProcess, url: str, login: dict, **headers: str) -> requests.Response:
    return requests.get(instance.base + url, headers={**bearer(login["access_token"]), **headers}, timeout=10)


def test_a_file_uploaded_through_one_instance_downloads_through_the_other(tmp_path):
    with cluster(tmp_path, size=2) as c:
        a, b = c.instances
        alice = register(a.base)
        image = png(900, 500, "blue")
        sent = uploaded(a, alice, "sky.png", image, "image/png")
        whole = get(b, f"/files/{sent['file_id']}", alice)
        assert whole.status_code == 200 and whole.content == image
        assert whole.headers["ETag"] == f'"{sent["sha256"]}"' and whole.headers["Accept-Ranges"] == "bytes"
        assert get(b, f"/files/{sent['file_id']}", alice, **{"If-None-Match": whole.headers["ETag"]}).status_code == 304
        thumb = get(b, f"/files/{sent['file_id']}/thumbnail", alice)
        assert thumb.status_code == 200 and thumb.headers["Content-Type"] == "image/webp" and thumb.content[:4] == b"RIFF"
        signed = requests.get(b.base + sent["file_url"], timeout=10)  # the upload answer's link, no token
        assert signed.status_code == 200 and signed.content == image


def test_large_files_are_chunked_stored_once_and_ranges_read_across_chunks(tmp_path):
    with cluster(tmp_path, size=2) as c:
        a, b = c.instances
        alice, bob = register(a.base), register(b.base)
        text = (b"confab " * (CHUNK_BYTES // 7 * 2 + 5000))[: 2 * CHUNK_BYTES + 12345]
        first = uploaded(a, alice, "big.txt", text, "text/plain")
        again = uploaded(b, bob, "same.txt", text, "text/plain")
        assert first["sha256"] == again["sha256"] == hashlib.sha256(text).hexdigest()
        with psycopg.connect(c.database_url) as db:
            blobs = db.execute("SELECT count(*) FROM blob WHERE sha256 = %s", (first["sha256"],)).fetchone()[0]
            chunks = db.execute("SELECT count(*), max(length(data)) FROM blob_chunk WHERE sha256 = %s",
                                (first["sha256"],)).fetchone()
        assert blobs == 1 and chunks == (3, CHUNK_BYTES)
        start, end = CHUNK_BYTES - 10, 2 * CHUNK_BYTES + 9
        part = get(a, f"/files/{again['file_id']}", bob, Range=f"bytes={start}-{end}")
        assert part.status_code == 206 and part.content == text[start:end + 1]
        assert part.headers["Content-Range"] == f"bytes {start}-{end}/{len(text)}"
        assert get(a, f"/files/{again['file_id']}", bob).content == text
        assert not [name for name in os.listdir(a.data_dir / "files") if name.startswith(".part-")]


def test_a_local_folder_the_others_do_not_share_is_refused_at_start(tmp_path):
    with cluster(tmp_path, size=1, CONFAB_FILES_BACKEND="local") as c:
        shared = c.instances[0].data_dir / "files"
        same_folder = ServerProcess(tmp_path / "same", env={**c.env, "CONFAB_FILES_DIR": str(shared)})
        c.instances.append(same_folder)
        same_folder.wait_ready(timeout=30)  # the folder the first one uses: accepted
        other = ServerProcess(tmp_path / "other", env=c.env)
        c.instances.append(other)
        assert other.process.wait(60) == 1
        last = other.log().strip().splitlines()[-1]
        assert last.startswith(f"confab: cannot start: files.dir {(tmp_path / 'other' / 'files').resolve()} is not "
                               "the folder the other instances of this cluster use"), last


def test_the_collector_deletes_only_unreferenced_blobs_from_the_database(tmp_path, pg_url):  # noqa: F811
    with running_server(tmp_path, database={"url": pg_url}, files={"backend": "postgresql", "gc_interval_s": "1"}) as server:
        login, _ = user(server)
        kept = uploaded(server, login, "kept.txt", b"referenced bytes", "text/plain")
        orphan, fresh = uuid.uuid4().hex * 2, uuid.uuid4().hex * 2
        with psycopg.connect(pg_url, autocommit=True) as db:
            for digest, touched in ((orphan, time.time() - 7200), (fresh, time.time())):
                db.execute("INSERT INTO blob (sha256, size, touched_at) VALUES (%s, 5, %s)", (digest, touched))
                db.execute("INSERT INTO blob_chunk (sha256, seq, data) VALUES (%s, 0, 'bytes')", (digest,))
            db.execute("UPDATE blob SET touched_at = %s WHERE sha256 = %s", (time.time() - 7200, kept["sha256"]))

            def left() -> set[str]:
                return {row[0] for row in db.execute("SELECT sha256 FROM blob_chunk")}
            wait_for(lambda: orphan not in left(), timeout=10, interval=0.1)
            assert {kept["sha256"], fresh} <= left()  # in use / within the grace period
        assert requests.get(server.base + kept["file_url"], timeout=10).content == b"referenced bytes"
