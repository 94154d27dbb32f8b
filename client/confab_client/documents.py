"""``DocumentSession``: a Confab document as a pycrdt ``Doc`` kept in sync over ``/yjs/<id>`` (the
y-websocket protocol: sync step 1/2, updates; awareness is ignored). The text is the ``Y.Text``
named ``content``. Local changes are sent as updates; remote ones are applied on the reader thread,
so change the document through ``replace_text``/``append_text`` or while holding ``lock``.
After a dropped connection it reconnects with backoff and syncs both ways again (step 1 each way).
"""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Callable

import websocket
from pycrdt import Doc, Text, TransactionEvent, YMessageType, YSyncMessageType, create_sync_message, \
    create_update_message, handle_sync_message

from confab_client.errors import ConnectionFailed
from confab_client.transport import hang_up, open_socket, pause

if TYPE_CHECKING:
    from confab_client.rest import Client


def text_edit(old: str, new: str) -> tuple[int, int, str]:
    """The smallest single replacement turning ``old`` into ``new``: (start, end, insert) in code
    points, from the common prefix and suffix, so unchanged text keeps its CRDT identity."""
    start = 0
    while start < min(len(old), len(new)) and old[start] == new[start]:
        start += 1
    end_old, end_new = len(old), len(new)
    while end_old > start and end_new > start and old[end_old - 1] == new[end_new - 1]:
        end_old, end_new = end_old - 1, end_new - 1
    return start, end_old, new[start:end_new]


class DocumentSession:
    def __init__(self, client: Client, document_id: str, *, reconnect: bool = True, timeout_s: float = 15.0,
                 backoff_s: float = 0.5, backoff_max_s: float = 30.0) -> None:
        self.client, self.document_id, self.reconnect = client, document_id, reconnect
        self.timeout_s, self.backoff_s, self.backoff_max_s = timeout_s, backoff_s, backoff_max_s
        self.doc = Doc()
        self.text: Text = self.doc.get("content", type=Text)
        self.lock = threading.RLock()
        self._synced = threading.Event()
        self._answers = 0  # sync step 2 messages received: one per step 1 sent, in order
        self._answered = threading.Condition(self.lock)
        self._remote = False
        self._closed = False
        self._ws: websocket.WebSocket | None = None
        self._reader: threading.Thread | None = None
        self.doc.observe(self._local_change)

    @property
    def content(self) -> str:
        with self.lock:
            return str(self.text)

    def connect(self) -> None:
        self._ws = self._open()
        self._reader = threading.Thread(target=self._run, name="confab-yjs", daemon=True)
        self._reader.start()
        if not self._synced.wait(self.timeout_s):
            self.close()
            raise ConnectionFailed("document did not sync in time (no access, or the server is busy)")

    def _open(self) -> websocket.WebSocket:
        ws = open_socket(f"{self.client.ws_base}/yjs/{self.document_id}", self.client.credential, self.timeout_s)
        ws.settimeout(None)
        with self.lock:
            ws.send_binary(create_sync_message(self.doc))
        return ws

    # --- editing ---------------------------------------------------------------------------------------

    def replace_text(self, new: str) -> None:
        """Make the text ``new`` as one CRDT change: a delete and an insert where it differs."""
        with self.lock, self.doc.transaction():
            old = str(self.text)
            start, end, insert = text_edit(old, new)
            first, last = len(old[:start].encode()), len(old[:end].encode())  # pycrdt counts UTF-8 bytes
            if last > first:
                del self.text[first:last]
            if insert:
                self.text.insert(first, insert)

    def append_text(self, addition: str) -> None:
        with self.lock:
            self.text += addition

    def flush(self) -> None:
        """Return once the server has stored every change made so far: it answers a sync step 1 with
        a step 2 only after its durable flush, and handles one socket's messages in order."""
        with self.lock:
            target = self._answers + 1
            self._send(create_sync_message(self.doc))
            if not self._answered.wait_for(lambda: self._answers >= target or self._closed, self.timeout_s):
                raise ConnectionFailed("the server did not confirm the document's changes in time")

    def wait_for(self, predicate: Callable[[str], bool], timeout_s: float = 10.0) -> str:
        """Wait until ``predicate(text)`` holds (remote edits arriving); returns the text."""
        deadline = time.monotonic() + timeout_s
        while not predicate(text := self.content):
            if time.monotonic() > deadline:
                raise TimeoutError(f"document text never matched; it is {text!r}")
            time.sleep(0.02)
        return text

    def _local_change(self, event: TransactionEvent) -> None:
        if not self._remote:
            self._send(create_update_message(event.update))

    def _send(self, message: bytes) -> None:
        ws = self._ws
        if ws is not None:
            try:
                ws.send_binary(message)
            except (websocket.WebSocketException, OSError):
                pass  # the reconnect's sync step 1 exchange carries it

    # --- the reader thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        delay = self.backoff_s
        while not self._closed:
            self._read_until_dropped()
            if self._closed or not self.reconnect:
                break
            while not self._closed:
                delay = pause(delay, self.backoff_max_s)
                try:
                    self._ws = self._open()
                    delay = self.backoff_s
                    break
                except ConnectionFailed:
                    continue
        with self.lock:
            self._closed = True
            self._answered.notify_all()

    def _read_until_dropped(self) -> None:
        ws = self._ws
        assert ws is not None
        while not self._closed:
            try:
                opcode, data = ws.recv_data()
            except (websocket.WebSocketException, OSError, ValueError):
                return
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return
            if opcode == websocket.ABNF.OPCODE_BINARY and data and data[0] == YMessageType.SYNC:
                self._on_sync(data)

    def _on_sync(self, data: bytes) -> None:
        with self.lock:
            self._remote = True
            try:
                reply = handle_sync_message(data[1:], self.doc)
            finally:
                self._remote = False
            if len(data) > 1 and data[1] == YSyncMessageType.SYNC_STEP2:
                self._answers += 1
                self._synced.set()
                self._answered.notify_all()
        if reply is not None:
            self._send(reply)

    def close(self) -> None:
        self._closed = True
        hang_up(self._ws, self._reader)

    def __enter__(self) -> DocumentSession:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()
