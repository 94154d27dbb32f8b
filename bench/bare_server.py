"""The ceiling for bench/chat.py: a bare fan-out server on Confab's stack (flask-sock on gevent pywsgi,
TCP_NODELAY) with a dict of rooms: no actors, no broker, no storage, no auth. It speaks the subset of
/ws the load generator uses (join_room, send_message → ack + new_message), framing each broadcast
once and writing the same bytes to every member, without permessage-deflate — the same tricks as
Confab, so the ratio measures what Confab adds (actors, broker, storage, auth).

    .venv/bin/python bench/bare_server.py PORT
"""
from gevent import monkey

monkey.patch_all()

import gc  # noqa: E402
import json  # noqa: E402
import socket  # noqa: E402
from functools import partial  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

from flask import Flask, request  # noqa: E402
from flask_sock import Sock  # noqa: E402
from gevent.lock import Semaphore  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from domain.ws_protocol import WireFrame  # noqa: E402
from web.server import NoDelayHandler  # noqa: E402

app = Flask(__name__)
sock = Sock(app)
rooms: dict[str, set] = defaultdict(set)
seqs: dict[str, int] = defaultdict(int)
dumps = partial(json.dumps, separators=(",", ":"), ensure_ascii=False)  # as Confab encodes


class Peer:
    """A socket and its write lock: one writer at a time, as gevent requires."""
    __slots__ = ("ws", "lock")

    def __init__(self, ws) -> None:
        self.ws, self.lock = ws, Semaphore()

    def send(self, frame: str | WireFrame) -> None:
        with self.lock:
            try:
                if isinstance(frame, WireFrame):
                    self.ws.sock.send(frame.wire)
                else:
                    self.ws.send(frame)
            except Exception:  # noqa: BLE001 — a gone peer is dropped by its own reader
                pass


class WholeFrameSocket:
    """simple-websocket's gevent ``send`` may write part of a frame; every write here is a locked
    ``sendall`` (the stack fix Confab needed before its own outbox), with one descriptor per socket."""

    def __init__(self, sock) -> None:
        self._sock, self._lock = sock, Semaphore()

    def send(self, data: bytes) -> int:
        with self._lock:
            self._sock.sendall(data)
        return len(data)

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


def harden(ws) -> None:
    ws.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = ws.environ["wsgi.input"]
    reader = getattr(reader, "rfile", reader)
    original = getattr(getattr(reader, "raw", None), "_sock", None)
    if original is not None and original is not ws.sock:  # simple-websocket keeps a dup(): close pywsgi's
        original.close()
        reader.close()
    ws.sock = WholeFrameSocket(ws.sock)


@app.before_request
def no_compression() -> None:
    request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)


@sock.route("/ws")
def chat(ws) -> None:
    harden(ws)  # the stack's fixes: whole-frame writes, one descriptor per socket
    peer, joined = Peer(ws), []
    try:
        while True:
            data = ws.receive()
            if data is None:
                break
            frame = json.loads(data)
            room = frame.get("room_id")
            if frame["type"] == "join_room":
                rooms[room].add(peer)
                joined.append(room)
                peer.send(dumps({"type": "user_joined", "ref": frame.get("ref"), "room_id": room}))
            elif frame["type"] == "send_message":
                seqs[room] += 1
                message = {"id": str(uuid.uuid4()), "room_id": room, "seq": seqs[room], "content": frame["content"],
                           "client_msg_id": frame["client_msg_id"], "created_at": time.time()}
                peer.send(dumps({"type": "ack", "ref": frame.get("ref"), "message": message}))
                frame = WireFrame(dumps({"type": "new_message", "message": message}).encode())
                for member in list(rooms[room]):
                    member.send(frame)
    finally:
        for room in joined:
            rooms[room].discard(peer)


if __name__ == "__main__":
    server = WSGIServer(("127.0.0.1", int(sys.argv[1])), app, handler_class=NoDelayHandler, log=None)
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    server.serve_forever()
