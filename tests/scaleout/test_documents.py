"""Documents on two real instances sharing PostgreSQL and Redis: concurrent edits through both converge,
JSON and Yjs peers on one see the other's edits and presence, the update log stays gapless, snapshot
compaction runs on exactly one instance and moves when it dies; and start-up against an unreachable
database or Redis says so in one line."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import gevent
import psycopg
import requests
import websocket
from pycrdt import Doc, Text

from tests.support.cluster import Cluster, cluster, require_cluster_services
from tests.support.harness import ROOT, ServerProcess, bearer, close_code, connect_ws, free_port, register
from tests.support.yjs_client import YjsClient, wait_until

require_cluster_services()


class JsonDocClient:
    """A /ws client joined to one document that keeps its own copy of the text by applying every
    ``document_updated`` delta in order, as a JSON-only editor would."""

    def __init__(self, ws_base: str, token: str, document_id: str) -> None:
        self.document_id = document_id
        self.ws = connect_ws(f"{ws_base}/ws", token)
        self.frames: list[dict[str, Any]] = []
        self.ws.send(json.dumps({"type": "join_document", "document_id": document_id, "ref": "join"}))
        joined = json.loads(self.ws.recv())
        assert joined["type"] == "ack", joined
        self.text, self.version = joined["content"], joined["version"]
        self.versions: list[int] = []
        self._reader = gevent.spawn(self._read)

    def _read(self) -> None:
        while True:
            try:
                frame = json.loads(self.ws.recv())
            except (websocket.WebSocketException, OSError):
                return
            if frame["type"] == "document_updated":
                self.text = apply_delta(self.text, frame["delta"])
                self.versions.append(frame["version"])
            self.frames.append(frame)

    def request(self, frame: dict[str, Any]) -> dict[str, Any]:
        ref = uuid.uuid4().hex
        self.ws.send(json.dumps({**frame, "document_id": self.document_id, "ref": ref}))
        return wait_until(lambda: next((f for f in self.frames if f.get("ref") == ref), None), message=ref)

    def edit(self, ops: list[dict[str, Any]]) -> dict[str, Any]:
        reply = self.request({"type": "edit_document", "ops": ops})
        assert reply["type"] == "ack", reply
        self.text = apply_delta(self.text, ops)  # the sender gets no document_updated for its own edit
        return reply

    def close(self) -> None:
        self._reader.kill()
        self.ws.close()


def apply_delta(text: str, ops: list[dict[str, Any]]) -> str:
    out, pos = [], 0
    for op in ops:
        if "retain" in op:
            out.append(text[pos:pos + op["retain"]])
            pos += op["retain"]
        elif "delete" in op:
            pos += op["delete"]
        else:
            out.append(op["insert"])
    return "".join(out) + text[pos:]


def create_document(base: str, token: str) -> str:
    reply = requests.post(f"{base}/api/v1/documents", json={"title": "shared"}, headers=bearer(token))
    assert reply.status_code == 201, reply.text
    return reply.json()["id"]


def stored(base: str, token: str, document_id: str) -> dict[str, Any]:
    return requests.get(f"{base}/api/v1/documents/{document_id}", headers=bearer(token)).json()


def stored_versions(base: str, token: str, document_id: str) -> list[int]:
    reply = requests.get(f"{base}/api/v1/documents/{document_id}/history?limit=100", headers=bearer(token))
    return sorted(item["version"] for item in reply.json()["items"])


def edit_randomly(client: YjsClient, mark: str, count: int, seed: int) -> None:
    chance = random.Random(seed)
    for i in range(count):
        client.insert(chance.randint(0, len(client.content)), f"{mark}{i}é ")
        if i % 7 == 6 and len(client.content) > 4:
            client.delete(chance.randint(0, len(client.content) - 3), 2)
        gevent.sleep(chance.random() * 0.01)


def test_concurrent_edits_through_two_instances_converge_for_yjs_and_json_peers(tmp_path: Path) -> None:
    with cluster(tmp_path, size=2) as c:
        a, b = c.instances
        token = register(a.base)["access_token"]
        doc = create_document(a.base, token)
        on_a = YjsClient(f"{a.ws_base}/yjs/{doc}", token)
        on_b = YjsClient(f"{b.ws_base}/yjs/{doc}", token)
        watcher = JsonDocClient(b.ws_base, token, doc)
        wait_until(lambda: on_a.synced and on_b.synced, message="both synced")

        gevent.joinall([gevent.spawn(edit_randomly, on_a, "A", 40, 1),
                        gevent.spawn(edit_randomly, on_b, "B", 40, 2)], raise_error=True)
        wait_until(lambda: on_a.content == on_b.content == watcher.text, timeout=15,
                   message=f"convergence: {on_a.content!r} / {on_b.content!r} / {watcher.text!r}")
        for base in (a.base, b.base):
            assert stored(base, token, doc)["content"] == on_a.content
        versions = stored_versions(a.base, token, doc)
        assert versions == list(range(1, len(versions) + 1)) and len(versions) >= 80  # gapless, nothing lost
        assert stored(b.base, token, doc)["version"] == versions[-1]
        # every stored update reached the JSON peer on B once, in whichever order B learnt of them
        wait_until(lambda: sorted(watcher.versions) == versions, message="every version on B")

        watcher.edit([{"insert": "J:"}])  # a JSON edit on B reaches the Yjs peer on A
        wait_until(lambda: on_a.content == on_b.content == watcher.text and on_a.content.startswith("J:"),
                   message="json edit everywhere")

        on_a.set_presence({"name": "ana on A"})  # awareness crosses instances too
        wait_until(lambda: {"name": "ana on A"} in on_b.remote_states().values(), message="presence on B")
        wait_until(lambda: any(f["type"] == "document_presence" and f["state"] == {"name": "ana on A"}
                               for f in watcher.frames), message="presence to the JSON peer on B")

        append_directly(c.database_url, doc, ["<lost>"])  # stored, but its publish never happened
        on_a.insert(0, "next:")  # the version after it shows both instances the gap; they read it back
        wait_until(lambda: on_a.content == on_b.content == watcher.text and "<lost>" in on_b.content
                   and on_a.content.startswith("next:"), message="the gap filled from storage")
        assert "document.gap_repaired" in b.log_path.read_text()

        guest = register(a.base)
        share = requests.post(f"{a.base}/api/v1/documents/{doc}/shares", headers=bearer(token),
                              json={"user_id": guest["user"]["id"], "role": "editor"})
        assert share.status_code == 201, share.text
        guest_on_b = connect_ws(f"{b.ws_base}/yjs/{doc}", guest["access_token"])
        assert guest_on_b.recv()  # sync step 1: joined on B
        assert requests.delete(f"{a.base}/api/v1/documents/{doc}/shares/{guest['user']['id']}",
                               headers=bearer(token)).status_code == 204
        assert close_code(guest_on_b) == 1008  # revoked through A, closed on B
        for client in (on_a, on_b, watcher):
            client.close()


def append_directly(database_url: str, document_id: str, texts: list[str]) -> str:
    """Append Yjs updates to the log as an instance would, with no instance holding the document;
    returns the text they make."""
    doc = Doc()
    text = doc.get("content", type=Text)
    with psycopg.connect(database_url, autocommit=False) as conn:
        (version,) = conn.execute("SELECT version FROM document WHERE id = %s FOR UPDATE", (document_id,)).fetchone()
        for (data,) in conn.execute("SELECT data FROM document_update WHERE document_id = %s ORDER BY version",
                                    (document_id,)).fetchall():
            doc.apply_update(bytes(data))
        for value in texts:
            before = doc.get_state()
            text += value
            version += 1
            conn.execute("INSERT INTO document_update (document_id, version, author_id, data, created_at) "
                         "VALUES (%s, %s, 'test', %s, now())", (document_id, version, doc.get_update(before)))
        conn.execute("UPDATE document SET version = %s WHERE id = %s", (version, document_id))
    return str(text)


def snapshot_versions(database_url: str, document_id: str) -> list[int]:
    with psycopg.connect(database_url) as conn:
        return [v for (v,) in conn.execute("SELECT version FROM document_snapshot WHERE document_id = %s "
                                           "ORDER BY version", (document_id,))]


def compactions(instance: ServerProcess, document_id: str) -> int:
    return sum("document.compacted" in line and document_id in line
               for line in instance.log_path.read_text(errors="replace").splitlines())


def holders(c: Cluster, job: str) -> list[ServerProcess]:
    live = [i for i in c.instances if i.process.poll() is None]
    return [i for i in live
            if job in requests.get(f"{i.base}/health").json()["components"]["cluster"].get("singleton_jobs", [])]


def test_snapshot_compaction_runs_on_exactly_one_instance_and_moves_when_it_dies(tmp_path: Path) -> None:
    with cluster(tmp_path, size=2, CONFAB_COLLAB_SNAPSHOT_EVERY_UPDATES="5",
                 CONFAB_COLLAB_SNAPSHOT_EVERY_S="0.2") as c:
        token = register(c.instances[0].base)["access_token"]
        doc = create_document(c.instances[0].base, token)
        holder = wait_until(lambda: holders(c, "collab.compaction"), message="a compaction holder")
        assert len(holder) == 1
        content = append_directly(c.database_url, doc, [f"w{i} " for i in range(12)])
        wait_until(lambda: 12 in snapshot_versions(c.database_url, doc), message="the job's snapshot")
        assert [compactions(i, doc) for i in c.instances] == [int(i is holder[0]) for i in c.instances]
        for base in (i.base for i in c.instances):  # loads from the snapshot; history still answers
            assert stored(base, token, doc)["content"] == content
            old = requests.get(f"{base}/api/v1/documents/{doc}/versions/3", headers=bearer(token)).json()
            assert old["content"] == "w0 w1 w2 "

        holder[0].process.kill()  # SIGKILL: its lease expires and the other instance takes the job
        survivor = next(i for i in c.instances if i is not holder[0])
        content = append_directly(c.database_url, doc, [f"x{i} " for i in range(6)])
        wait_until(lambda: 18 in snapshot_versions(c.database_url, doc), timeout=20, message="snapshot after failover")
        assert compactions(survivor, doc) == 1 and holders(c, "collab.compaction") == [survivor]
        assert stored(survivor.base, token, doc)["content"] == content


def start_failure(tmp_path: Path, **env: str) -> tuple[int, str]:
    run = subprocess.run([sys.executable, str(ROOT / "app.py"), "--port", str(free_port()),
                          "--data-dir", str(tmp_path)], cwd=ROOT, env={**os.environ, **env},
                         capture_output=True, text=True, timeout=60)
    return run.returncode, run.stdout + run.stderr


def test_an_unreachable_database_or_redis_stops_start_up_with_one_line(tmp_path: Path) -> None:
    for env, names in (({"CONFAB_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"}, "database"),
                       ({"CONFAB_BROKER_BACKEND": "redis", "CONFAB_BROKER_REDIS_URL": "redis://127.0.0.1:1/0"},
                        "Redis")):
        code, output = start_failure(tmp_path / names, **env)
        said = [line for line in output.splitlines() if line.startswith("confab:")]
        assert code == 1 and "Traceback" not in output, output
        assert len(said) == 1 and "cannot start" in said[0] and names in said[0] and "127.0.0.1:1" in said[0], said
