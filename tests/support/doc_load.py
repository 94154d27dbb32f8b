"""A steady document editor for failure tests, as a JSON client on ``/ws`` behaves: insert a unique token
and wait for the ack; on an error wait (at most ``retry_after_s``) and go on with a new token (a refused
edit is not resent: it was never applied); when the document asks to be joined again, or the socket is
lost, join again. Every reply is recorded with its time (``tests.support.chat_load.Outcome``)."""
from __future__ import annotations

import json
import threading
import time
import uuid

import requests
import websocket

from tests.support.chat_load import ACK, Outcome
from tests.support.harness import ServerProcess, bearer, connect_ws


class DocEditor(threading.Thread):
    def __init__(self, instance: ServerProcess, token: str, document_id: str, stop: threading.Event,
                 retry_cap_s: float = 0.5, pause_s: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.instance, self.token, self.document_id, self.stop = instance, token, document_id, stop
        self.retry_cap_s, self.pause_s = retry_cap_s, pause_s
        self.acked: dict[str, int] = {}  # token inserted → the version its ack named
        self.refused: list[str] = []  # answered with an error: never applied
        self.unknown: list[str] = []  # the socket went before the answer
        self.outcomes: list[Outcome] = []
        self.error: Exception | None = None
        self.ws: websocket.WebSocket | None = None

    def _request(self, frame: dict) -> dict:
        assert self.ws is not None
        ref = uuid.uuid4().hex
        self.ws.send(json.dumps({**frame, "ref": ref}))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("ref") == ref:
                return reply

    def _join(self) -> None:
        """(Re)connect and join until the server has the document again."""
        while not self.stop.is_set():
            try:
                if self.ws is None:
                    self.ws = connect_ws(f"{self.instance.ws_base}/ws", self.token)
                    self.ws.settimeout(30)
                reply = self._request({"type": "join_document", "document_id": self.document_id})
                if reply["type"] == "ack":
                    return
                self._record_error(reply, "join_document")
            except (websocket.WebSocketException, OSError):
                self.outcomes.append(Outcome(time.monotonic(), "reconnect"))
                self.ws = None
                time.sleep(self.retry_cap_s)

    def _record_error(self, reply: dict, op: str) -> None:
        """Record the error and back off: ``retry_after_s`` when given, else the cap."""
        error = reply["error"]
        retry_after = error["details"].get("retry_after_s")
        self.outcomes.append(Outcome(time.monotonic(), error["code"], retry_after, error["message"], op))
        time.sleep(min(retry_after or self.retry_cap_s, self.retry_cap_s))

    def run(self) -> None:
        try:
            self._join()
            while not self.stop.is_set():
                text = f"<{uuid.uuid4().hex[:10]}>"
                try:
                    reply = self._request({"type": "edit_document", "document_id": self.document_id,
                                           "ops": [{"insert": text}]})
                except (websocket.WebSocketException, OSError):
                    self.unknown.append(text)
                    self.ws = None
                    self._join()
                    continue
                if reply["type"] == "ack":
                    self.outcomes.append(Outcome(time.monotonic(), ACK, op="edit_document"))
                    self.acked[text] = reply["version"]
                else:
                    self.refused.append(text)
                    self._record_error(reply, "edit_document")
                    if "join" in reply["error"]["message"]:
                        self._join()
                time.sleep(self.pause_s)
        except Exception as exc:  # noqa: BLE001 — reported by the test
            self.error = exc
        finally:
            if self.ws is not None:
                self.ws.close()


def document_versions(server: ServerProcess, token: str, document_id: str) -> list[int]:
    """Every version in the document's history, oldest first."""
    versions, before = [], None
    while True:
        params = {"limit": 200, **({"before": before} if before else {})}
        page = requests.get(f"{server.base}/api/v1/documents/{document_id}/history", params=params,
                            headers=bearer(token)).json()
        versions += [item["version"] for item in page["items"]]
        if not page["next_cursor"]:
            return sorted(versions)
        before = page["next_cursor"]


def assert_edits_stored_once(server: ServerProcess, token: str, document_id: str, editor: DocEditor) -> int:
    """Versions gapless, every acked edit present once, no refused one applied; the number of versions."""
    versions = document_versions(server, token, document_id)
    assert versions == list(range(1, len(versions) + 1))  # gapless
    assert set(editor.acked.values()) <= set(versions)
    content = requests.get(f"{server.base}/api/v1/documents/{document_id}", headers=bearer(token)).json()["content"]
    assert all(content.count(text) == 1 for text in editor.acked)
    assert not [text for text in editor.refused if text in content]  # a refused edit was not applied
    return len(versions)
