"""Durability and lifecycle: kill -9, snapshots and eviction, and no leaks after injected faults."""
from __future__ import annotations

import gc
import json
import logging
from typing import Any

import gevent
import pykka
import pytest
import requests

from actors.documents.document import DocumentActor
from actors.gateway import SessionCounts
from domain import logs
from storage import documents as store
from tests.support.harness import ServerProcess, StatsdReceiver, bearer, close_code, connect_ws, running_server, ws_request
from tests.support.harness import register as register_user
from tests.support.yjs_client import YjsClient, wait_until


def create(base: str, token: str) -> str:
    return requests.post(f"{base}/api/v1/documents", json={"title": "t"}, headers=bearer(token)).json()["id"]


def test_everything_a_peer_saw_survives_kill_9(tmp_path: Any) -> None:
    first = ServerProcess(tmp_path)
    try:
        first.wait_ready()
        token = register_user(first.base)["access_token"]
        doc = create(first.base, token)
        writer = YjsClient(f"{first.ws_base}/yjs/{doc}", token)
        observer = YjsClient(f"{first.ws_base}/yjs/{doc}", token)
        wait_until(lambda: writer.synced and observer.synced)
        for i in range(30):
            writer.insert(len(writer.content), f"{i}é😀 ")
        wait_until(lambda: observer.content == writer.content, message="observer saw everything")
        seen = observer.content
        first.process.kill()
        first.process.wait(10)
    finally:
        first.stop()
    second = ServerProcess(tmp_path)
    try:
        second.wait_ready()
        body = requests.get(f"{second.base}/api/v1/documents/{doc}", headers=bearer(token)).json()
        assert body["content"] == seen and body["version"] == 30
        late = YjsClient(f"{second.ws_base}/yjs/{doc}", token)
        wait_until(lambda: late.synced and late.content == seen, message="sync after restart")
        late.insert(0, ">")  # the reloaded CRDT history accepts new edits without duplicating text
        wait_until(lambda: requests.get(f"{second.base}/api/v1/documents/{doc}",
                                        headers=bearer(token)).json()["content"] == ">" + seen)
        late.close()
    finally:
        second.stop()


def test_snapshots_compact_loading_and_eviction_keeps_every_version(tmp_path: Any) -> None:
    with running_server(tmp_path, collab={"snapshot_every_updates": 3, "idle_evict_s": 0.2}) as srv:
        token = register_user(srv.base)["access_token"]
        doc = create(srv.base, token)
        ws = connect_ws(f"{srv.ws_base}/ws", token)
        ws_request(ws, {"type": "join_document", "document_id": doc})
        for i in range(7):
            ops = ([{"retain": i}] if i else []) + [{"insert": str(i)}]
            assert ws_request(ws, {"type": "edit_document", "document_id": doc, "ops": ops})["version"] == i + 1
        ws_request(ws, {"type": "leave_document", "document_id": doc})
        wait_until(lambda: srv.confab.services.documents.stats()["documents"] == 0, message="eviction")
        wait_until(lambda: store.load(doc)[1] == 7, message="the final snapshot, written as the actor stops")
        snapshot, base, tail = store.load(doc)
        assert snapshot is not None and base == 7 and tail == []
        assert ws_request(ws, {"type": "join_document", "document_id": doc})["content"] == "0123456"
        for version in (2, 4, 6):
            got = requests.get(f"{srv.base}/api/v1/documents/{doc}/versions/{version}", headers=bearer(token)).json()
            assert got["content"] == "0123456"[:version]
        ws.close()


def _live_timers() -> list[gevent.Greenlet]:
    return [g for g in gc.get_objects() if isinstance(g, gevent.Greenlet) and not g.dead
            and any(type(arg).__name__ in ("_Sweep", "_SnapshotTick", "_Evict") for arg in g.args)]


def test_lifecycle_never_leaks_after_faults(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with running_server(tmp_path, collab={"idle_evict_s": 0.1, "snapshot_every_s": 0.1}) as srv:
        token = register_user(srv.base)["access_token"]
        docs = [create(srv.base, token) for _ in range(3)]
        real_load, real_append = store.load, store.commit_many

        def failing_load(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("injected load failure")

        monkeypatch.setattr(store, "load", failing_load)  # rejected loads
        refused = YjsClient(f"{srv.ws_base}/yjs/{docs[0]}", token, connect=False)
        refused.ws = connect_ws(f"{srv.ws_base}/yjs/{docs[0]}", token)
        assert close_code(refused.ws) == 1011
        ws = connect_ws(f"{srv.ws_base}/ws", token)
        assert ws_request(ws, {"type": "join_document", "document_id": docs[0]})["error"]["code"] == "UNAVAILABLE"
        monkeypatch.setattr(store, "load", real_load)

        peers = [YjsClient(f"{srv.ws_base}/yjs/{doc}", token) for doc in docs for _ in range(2)]
        wait_until(lambda: all(p.synced for p in peers))
        for i, peer in enumerate(peers):
            peer.set_presence({"n": i})
            peer.insert(0, "ok")
        wait_until(lambda: all(store.load(doc)[1] + len(store.load(doc)[2]) == 2 for doc in docs), message="stored")

        def failing_append(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("injected store failure")

        monkeypatch.setattr(store, "commit_many", failing_append)  # failed stores
        ws_request(ws, {"type": "join_document", "document_id": docs[1]})
        reply = ws_request(ws, {"type": "edit_document", "document_id": docs[1], "ops": [{"insert": "lost"}]})
        assert reply["error"]["code"] == "UNAVAILABLE"
        monkeypatch.setattr(store, "commit_many", real_append)
        wait_until(lambda: not peers[2].ws.connected or peers[2]._reader.dead, message="peers dropped on failure")

        for peer in peers[:2]:  # abrupt disconnects: no close handshake
            peer._reader.kill()
            peer.ws.sock.shutdown(2)
        for peer in peers[2:]:
            peer.close()
        ws.close()
        assert requests.get(f"{srv.base}/api/v1/documents/{docs[1]}", headers=bearer(token)).json()["content"] == "okok"

        def settled() -> bool:
            return (srv.confab.services.documents.stats() == {"documents": 0, "leases": 0, "idle_timers": 0}
                    and not pykka.ActorRegistry.get_by_class(DocumentActor)
                    and srv.confab.services.gateway.ask(SessionCounts())["sessions"] == 0 and not _live_timers())

        wait_until(settled, timeout=10, message="no live document actors, peers or timers")
        assert json.loads(requests.get(f"{srv.base}/health").text)["components"]["collab"]["documents"] == 0


class _ContextRecorder(logging.Handler):
    """Records each line with the correlation fields bound where it was logged."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.getMessage(), {**logs.current(), **getattr(record, "fields", {})}))


def test_metrics_and_document_id_in_the_actor_log_lines(tmp_path: Any) -> None:
    recorder = _ContextRecorder()
    logging.getLogger("confab.documents").addHandler(recorder)
    receiver = StatsdReceiver()
    with running_server(tmp_path, statsd={"enabled": "true", "port": receiver.port, "instance": "i1"},
                        logging={"level": "DEBUG"}) as srv:
        token = register_user(srv.base)["access_token"]
        doc = create(srv.base, token)
        ws = connect_ws(f"{srv.ws_base}/ws", token)
        ws_request(ws, {"type": "join_document", "document_id": doc})
        ws_request(ws, {"type": "edit_document", "document_id": doc, "ops": [{"insert": "x"}]})
        ws_request(ws, {"type": "edit_document", "document_id": doc, "ops": [{"delete": 5}]})
        wanted = ("confab.i1.documents.active:1|g", "confab.collab.edit_latency:")
        packets = receiver.wait_for(*wanted)
        ws.close()
    receiver.close()
    for prefix in wanted:
        assert any(p.startswith(prefix) for p in packets), (prefix, packets[:20])
    logging.getLogger("confab.documents").removeHandler(recorder)
    names = {name for name, _ in recorder.lines}
    assert {"document.loaded", "document.snapshot"} <= names, names  # loaded, and the final snapshot at stop
    assert all(fields.get("document_id") == doc for _, fields in recorder.lines)


def test_documents_round_trip_on_postgres(make_server: Any) -> None:
    """The raw-SQL group commit, blobs and snapshots on the scale-out engine."""
    with make_server("postgresql", "documents-pg", collab={"snapshot_every_updates": 2}) as srv:
        token = register_user(srv.base)["access_token"]
        doc = requests.post(f"{srv.base}/api/v1/documents", json={"title": "pg"}, headers=bearer(token)).json()["id"]
        peer = YjsClient(f"{srv.ws_base}/yjs/{doc}", token)
        wait_until(lambda: peer.synced)
        peer.insert(0, "é😀")
        ws = connect_ws(f"{srv.ws_base}/ws", token)
        wait_until(lambda: ws_request(ws, {"type": "join_document", "document_id": doc})["version"] == 1)
        assert ws_request(ws, {"type": "edit_document", "document_id": doc, "ops": [{"retain": 2}, {"insert": "!"}]}
                          )["version"] == 2
        wait_until(lambda: peer.content == "é😀!")
        body = requests.get(f"{srv.base}/api/v1/documents/{doc}", headers=bearer(token)).json()
        assert body["content"] == "é😀!" and body["version"] == 2
        old = requests.get(f"{srv.base}/api/v1/documents/{doc}/versions/1", headers=bearer(token)).json()
        assert old["content"] == "é😀"
        peer.close()
        ws.close()
