"""Documents on PostgreSQL: the raw-SQL group commit, blobs and snapshots on the scale-out engine."""
from __future__ import annotations

from typing import Any

import requests

from tests.support.harness import bearer, connect_ws, running_server, ws_request
from tests.support.harness import register as register_user
from tests.storage.test_postgres import pg_url  # noqa: F401 — the fixture (skips the module without PostgreSQL)
from tests.support.yjs_client import YjsClient, wait_until


def test_documents_round_trip_on_postgres(pg_url: str, tmp_path: Any) -> None:  # noqa: F811
    with running_server(tmp_path, database={"url": pg_url}, collab={"snapshot_every_updates": 2}) as srv:
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
