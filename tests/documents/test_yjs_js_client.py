"""The reference client, unchanged: y-websocket's WebsocketProvider (Node) against /yjs.

Needs ``node`` and ``npm`` (the npm registry is reachable from developer machines and CI); the
packages are installed once per run into a temporary folder, pinned. Skips when either is missing.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.harness import Server, bearer
from tests.support.harness import register as register_user
from tests.support.yjs_client import YjsClient, wait_until

PACKAGES = ["yjs@13.6.33", "y-websocket@3.1.0", "ws@8.23.0"]
CLIENT = """
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'
const [serverUrl, room, token, text, waitMs] = process.argv.slice(2)
const doc = new Y.Doc()
const provider = new WebsocketProvider(serverUrl, room, doc, { WebSocketPolyfill: WebSocket, params: { token } })
provider.awareness.setLocalStateField('user', { name: 'node' })
provider.on('sync', (synced) => {
  if (!synced) return
  const ytext = doc.getText('content')
  console.log('SYNCED ' + JSON.stringify(ytext.toString()))
  ytext.insert(0, text)
  setTimeout(() => {
    console.log('FINAL ' + JSON.stringify(ytext.toString()) + ' ' + provider.awareness.getStates().size)
    provider.destroy(); process.exit(0)
  }, 500)
})
setTimeout(() => { console.log('NEVER SYNCED'); process.exit(2) }, Number(waitMs))
"""


@pytest.fixture(scope="module")
def node_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not shutil.which("node") or not shutil.which("npm"):
        if os.environ.get("CI"):
            pytest.fail("node and npm are required in CI for the y-websocket client test")
        pytest.skip("node/npm not installed")
    folder = tmp_path_factory.mktemp("yjs-node")
    (folder / "package.json").write_text('{"name": "confab-yjs-check", "type": "module", "private": true}')
    try:
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent", *PACKAGES], cwd=folder,
                       check=True, capture_output=True, timeout=120)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"npm install failed: {exc}")
    (folder / "client.js").write_text(CLIENT)
    return folder / "client.js"


def run_node(script: Path, *args: str) -> str:
    from gevent import subprocess as cooperative  # the server runs in this process: do not block its hub

    return cooperative.run(["node", str(script), *args], capture_output=True, text=True, timeout=30).stdout


def test_websocket_provider_syncs_edits_and_sees_presence(server: Server, node_client: Path) -> None:
    token = register_user(server.base)["access_token"]
    doc = requests.post(f"{server.base}/api/v1/documents", json={"title": "js"}, headers=bearer(token)).json()["id"]
    python_peer = YjsClient(f"{server.ws_base}/yjs/{doc}", token)
    wait_until(lambda: python_peer.synced)
    python_peer.insert(0, "from python é😀")
    python_peer.set_presence({"user": "py"})
    output = run_node(node_client, f"{server.ws_base}/yjs", doc, token, "from node ", "15000")
    assert 'SYNCED "from python é😀"' in output
    assert 'FINAL "from node from python é😀" 2' in output  # its own awareness state and the Python peer's
    wait_until(lambda: python_peer.content == "from node from python é😀")
    body: dict[str, Any] = requests.get(f"{server.base}/api/v1/documents/{doc}", headers=bearer(token)).json()
    assert body["content"] == "from node from python é😀" and body["version"] == 2
    refused = run_node(node_client, f"{server.ws_base}/yjs", doc, "not-a-token", "x", "1500")
    assert "NEVER SYNCED" in refused and "SYNCED \"" not in refused
    python_peer.close()
