"""A y-websocket client on pycrdt's protocol pieces, for tests and the benchmark.

Synchronous (websocket-client) with a reader greenlet, like any Yjs client: it sends sync step 1 on
connect, answers the server's step 1 with step 2, applies updates, relays its own changes as
update messages, and keeps remote awareness states.
"""
from __future__ import annotations

import json
import struct
import time
from typing import Any, Callable

import gevent
import websocket
from pycrdt import Awareness, Doc, Text, create_awareness_message, create_sync_message, handle_sync_message

from domain import yjs_sync


class YjsClient:
    def __init__(self, url: str, token: str | None, connect: bool = True) -> None:
        self.url = f"{url}?token={token}" if token else url
        self.doc = Doc()
        self.text: Text = self.doc.get("content", type=Text)
        self.awareness = Awareness(self.doc)
        self.synced = False
        self.closed_with: int | None = None  # the server's close code, once it closed the socket
        self.received: list[bytes] = []
        self.on_update: Callable[[bytes], None] | None = None
        self._remote = False
        self._reader: gevent.Greenlet | None = None
        self.doc.observe(self._local_change)
        if connect:
            self.connect()

    def connect(self) -> None:
        self.ws = websocket.create_connection(self.url, timeout=10)
        self.ws.send_binary(create_sync_message(self.doc))
        self._reader = gevent.spawn(self._read)

    def _local_change(self, event: Any) -> None:
        if not self._remote:
            try:
                self.ws.send_binary(yjs_sync.sync_update(event.update))
            except (websocket.WebSocketException, OSError):
                pass

    def _read(self) -> None:
        while True:
            try:
                opcode, data = self.ws.recv_data()
            except (websocket.WebSocketException, OSError):
                return
            if opcode != websocket.ABNF.OPCODE_BINARY:
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    self.closed_with = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                    return
                continue
            self.received.append(data)
            message = yjs_sync.parse(data)
            if isinstance(message, yjs_sync.AwarenessUpdate):
                self.awareness.apply_awareness_update(message.payload, "remote")
                continue
            self._remote = True
            try:
                reply = handle_sync_message(data[1:], self.doc)
            finally:
                self._remote = False
            if isinstance(message, yjs_sync.SyncStep2):
                self.synced = True
            if reply is not None:
                self.ws.send_binary(reply)
            if self.on_update is not None and not isinstance(message, yjs_sync.SyncStep1):
                self.on_update(data)

    def set_presence(self, state: dict[str, Any] | None) -> None:
        self.awareness.set_local_state(state)
        payload = self.awareness.encode_awareness_update([self.awareness.client_id])
        self.ws.send_binary(create_awareness_message(payload))

    def remote_states(self) -> dict[int, Any]:
        return {cid: s for cid, s in self.awareness.states.items() if cid != self.awareness.client_id}

    @property
    def content(self) -> str:
        return str(self.text)

    def insert(self, codepoint_index: int, value: str) -> None:
        current = str(self.text)
        self.text.insert(len(current[:codepoint_index].encode()), value)

    def delete(self, codepoint_index: int, count: int) -> None:
        current = str(self.text)
        start = len(current[:codepoint_index].encode())
        end = len(current[:codepoint_index + count].encode())
        del self.text[start:end]

    def close(self) -> None:
        """Close like a browser: the close handshake, without racing the reader for the reply."""
        if self._reader is not None:
            self._reader.kill()
        try:
            self.ws.close(timeout=2)
        except (websocket.WebSocketException, OSError):
            pass


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        gevent.sleep(0.01)
    raise AssertionError(f"timed out waiting for {message}")


def dumps(value: Any) -> str:
    return json.dumps(value)
