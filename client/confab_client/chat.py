"""``ChatSession``: one /ws connection that survives disconnections.

- Requests (``send_message``, ``join``, ``request``) wait for their answer: a send returns the stored
  message once the server's ``ack`` says it is durable; an ``error`` frame raises its typed exception.
- Each joined room's last ``seq`` is tracked. After a dropped connection (or a close such as 1012
  service restart, 4008 slow consumer, 4429) the session reconnects with exponential backoff and jitter,
  joins every room again with ``since_seq`` and resends unanswered requests (sends keep their
  ``client_msg_id``, so the server stores each once). Messages are handed out in seq order, each once:
  duplicates are dropped and holes (a truncated replay, delivery lost meanwhile) are filled over REST
  first (``confab_client.sequence``). Edits, deletes and reactions made while away are not replayed.
- Events come out of ``events()`` (an iterator) and/or go to callbacks registered with ``on()``,
  which run on a dispatcher thread of their own, so a callback may call ``send_message``.

Threads, not asyncio: websocket-client and requests are blocking libraries, a thread per session is
plain to use from scripts and bots, and under gevent's monkey patching (Confab's own tests and benches)
the same threads become greenlets, where an asyncio loop would fight the gevent hub.
"""
from __future__ import annotations

import itertools
import json
import logging
import queue
import struct
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

import websocket

from confab_client.errors import ConfabError, ConnectionFailed, RateLimited, Unauthorized, error_from
from confab_client.sequence import RoomCursor
from confab_client.transport import hang_up, open_socket, pause

if TYPE_CHECKING:
    from confab_client.rest import Client

log = logging.getLogger("confab_client")

CLOSE_POLICY, CLOSE_TOO_MANY = 1008, 4429
#: rejoins in flight while resuming: a session in many rooms stays inside the server's per-user frame
#: budget, and a refusal is retried after its wait (below the refusals in a row that close a socket)
REJOIN_WINDOW = 8
_refs = itertools.count(1)


@dataclass(frozen=True)
class Event:
    """A server frame that is not an answer: ``new_message`` (with ``message``), ``message_edited``,
    ``user_joined``, ``notification``… ``data`` is the whole frame."""
    type: str
    data: dict[str, Any]

    @property
    def room_id(self) -> str | None:
        return self.data.get("room_id") or (self.message or {}).get("room_id")

    @property
    def message(self) -> dict[str, Any] | None:
        return self.data.get("message") if self.type == "new_message" else None


@dataclass
class _Pending:
    frame: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    reply: dict[str, Any] | None = None
    resume: bool = False  # a rejoin the session sent itself while resuming: nobody waits for it


class _Dropped(Exception):
    """The connection ended; ``code`` is the close code if the server sent one."""

    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(f"closed {code} {reason}")
        self.code, self.reason = code, reason


_END = object()


class ChatSession:
    def __init__(self, client: Client, *, reconnect: bool = True, backoff_s: float = 0.5,
                 backoff_max_s: float = 30.0, timeout_s: float = 15.0, idle_s: float = 60.0) -> None:
        """``idle_s``: silence after which the connection is pinged, and after twice that, dropped
        (the server pings every 25 s by default)."""
        self.client, self.reconnect = client, reconnect
        self.backoff_s, self.backoff_max_s, self.timeout_s, self.idle_s = backoff_s, backoff_max_s, timeout_s, idle_s
        self.reconnects = 0
        self._rooms: dict[str, RoomCursor] = {}
        self._joins: dict[str, str] = {}  # room → ref of its join request, reused when rejoining
        self._pending: dict[str, _Pending] = {}
        self._rejoins: deque[dict[str, Any]] = deque()  # rejoin frames not sent yet (REJOIN_WINDOW)
        self._lock = threading.RLock()
        self._events: queue.Queue[Any] = queue.Queue()
        self._handlers: list[tuple[str | None, Callable[[Event], None]]] = []
        self._callbacks: queue.Queue[Any] | None = None
        self._ws: websocket.WebSocket | None = None
        self._closed = False
        self._failure: ConfabError | None = None
        self._reader: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------------

    def connect(self) -> None:
        self._ws = self._open()
        self._reader = threading.Thread(target=self._run, name="confab-chat", daemon=True)
        self._reader.start()

    def _open(self) -> websocket.WebSocket:
        ws = open_socket(f"{self.client.ws_base}/ws", self.client.credential, self.timeout_s)
        ws.settimeout(self.idle_s)
        return ws

    def close(self) -> None:
        """Close the connection; ``events()`` ends and waiting requests fail."""
        self._closed = True
        hang_up(self._ws, self._reader)
        self._finish(None)

    def __enter__(self) -> ChatSession:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()

    # --- requests --------------------------------------------------------------------------------------

    def join(self, room_id: str, since_seq: int | None = None) -> dict[str, Any]:
        """Join ``room_id`` on this socket; with ``since_seq``, every message after it comes out of
        ``events()`` first. Returns the room. Without it, delivery starts at the room's current seq."""
        ref = f"j{next(_refs)}"
        with self._lock:
            self._rooms[room_id] = RoomCursor(since_seq)
            self._joins[room_id] = ref
        frame = {"type": "join_room", "room_id": room_id, "ref": ref}
        if since_seq is not None:
            frame["since_seq"] = since_seq
        try:
            return self.request(frame)["room"]
        except ConfabError:
            with self._lock:
                if self._joins.get(room_id) == ref:
                    self._rooms.pop(room_id, None)
                    self._joins.pop(room_id, None)
            raise

    def leave(self, room_id: str) -> None:
        with self._lock:
            self._rooms.pop(room_id, None)
            self._joins.pop(room_id, None)
        self.request({"type": "leave_room", "room_id": room_id})

    def last_seq(self, room_id: str) -> int | None:
        cursor = self._rooms.get(room_id)
        return cursor.last_seq if cursor else None

    def send_message(self, room_id: str, content: str = "", *, client_msg_id: str | None = None,
                     reply_to_id: str | None = None, attachments: list[str] | None = None) -> dict[str, Any]:
        """Send and wait for the ``ack``: the stored message, with its ``seq``."""
        frame = {"type": "send_message", "room_id": room_id, "content": content,
                 "client_msg_id": client_msg_id or uuid.uuid4().hex, "attachments": attachments or []}
        if reply_to_id:
            frame["reply_to_id"] = reply_to_id
        return self.request(frame)["message"]

    def request(self, frame: dict[str, Any], timeout_s: float | None = None) -> dict[str, Any]:
        """Send any /ws frame and wait for its answer (``ack``, ``user_joined``, ``pong``…); an
        ``error`` answer is raised. Unanswered requests are resent after a reconnect."""
        ref = frame.setdefault("ref", f"r{next(_refs)}")
        pending = _Pending(frame)
        with self._lock:
            if self._failure is not None or self._closed:
                raise self._failure or ConnectionFailed("session closed")
            self._pending[ref] = pending
        self._send(frame)
        if not pending.done.wait(timeout_s or self.timeout_s):
            with self._lock:
                self._pending.pop(ref, None)
            raise ConnectionFailed(f"no answer to {frame['type']} in time")
        reply = pending.reply
        if reply is None:
            raise self._failure or ConnectionFailed("session closed")
        if reply.get("type") == "error":
            raise error_from(reply)
        return reply

    def _send(self, frame: dict[str, Any]) -> None:
        """Write now if connected; otherwise the reconnect resends it."""
        ws = self._ws
        if ws is None:
            return
        try:
            ws.send(json.dumps(frame))
        except (websocket.WebSocketException, OSError):
            pass

    # --- events ----------------------------------------------------------------------------------------

    def events(self, timeout_s: float | None = None) -> Iterator[Event]:
        """Events in arrival order (messages in seq order per room) until the session closes; with
        ``timeout_s``, also stops after that long without one. Raises the failure that ended the session
        (e.g. ``Unauthorized`` when its key was revoked)."""
        while True:
            try:
                item = self._events.get(timeout=timeout_s)
            except queue.Empty:
                return
            if item is _END:
                self._events.put(_END)  # for any other iterator
                if self._failure is not None:
                    raise self._failure
                return
            yield item

    def on(self, event_type: str | None, callback: Callable[[Event], None]) -> None:
        """Call ``callback(event)`` for each event of ``event_type`` (None: every event), on the
        session's dispatcher thread."""
        with self._lock:
            self._handlers.append((event_type, callback))
            if self._callbacks is None:
                self._callbacks = queue.Queue()
                threading.Thread(target=self._dispatch_callbacks, name="confab-callbacks", daemon=True).start()

    def _dispatch_callbacks(self) -> None:
        assert self._callbacks is not None
        while (event := self._callbacks.get()) is not _END:
            for event_type, callback in list(self._handlers):
                if event_type is None or event_type == event.type:
                    try:
                        callback(event)
                    except Exception:  # a failing callback must not stop the others
                        log.exception("confab_client: callback failed on %s", event.type)

    def _emit(self, event: Event) -> None:
        self._events.put(event)
        if self._callbacks is not None:
            self._callbacks.put(event)

    # --- the reader thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        delay = self.backoff_s
        while not self._closed:
            try:
                self._read_until_dropped()
            except _Dropped as dropped:
                if self._closed:
                    break
                fatal = self._fatal(dropped)
                if fatal is not None or not self.reconnect:
                    self._finish(fatal or ConnectionFailed(f"connection closed ({dropped.code})"))
                    return
                if dropped.code == CLOSE_TOO_MANY:
                    delay = max(delay, 5.0)
                delay = self._reconnect(delay)
        self._finish(None)

    def _read_until_dropped(self) -> None:
        ws, quiet = self._ws, 0
        assert ws is not None
        while not self._closed:
            try:
                opcode, data = ws.recv_data()
            except websocket.WebSocketTimeoutException:
                quiet += 1
                if quiet >= 2:
                    raise _Dropped(None, "no traffic") from None
                self._ping(ws)
                continue
            except (websocket.WebSocketException, OSError, ValueError) as exc:
                raise _Dropped(None, str(exc)) from None
            quiet = 0
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                raise _Dropped(code, data[2:].decode(errors="replace"))
            if opcode == websocket.ABNF.OPCODE_TEXT:
                try:
                    self._on_frame(json.loads(data))
                except ConfabError as exc:  # a hole could not be filled over REST: resume from the last seq
                    raise _Dropped(None, f"catching up failed: {exc}") from None

    @staticmethod
    def _ping(ws: websocket.WebSocket) -> None:
        try:
            ws.ping()
        except (websocket.WebSocketException, OSError):
            pass

    def _fatal(self, dropped: _Dropped) -> ConfabError | None:
        """A policy close (bad or revoked credential) ends the session unless a refresh helps."""
        if dropped.code != CLOSE_POLICY:
            return None
        try:
            if self.client.refresh_after(self.client.access_token):
                return None
        except ConfabError as exc:
            return exc
        return Unauthorized(dropped.reason or "closed by the server (policy)")

    def _reconnect(self, delay: float) -> float:
        """Reopen, then join every room again from its last seq and resend what is unanswered; returns
        the next backoff."""
        while not self._closed:
            delay = pause(delay, self.backoff_max_s)
            try:
                self._ws = self._open()
            except ConnectionFailed as exc:
                log.info("confab_client: reconnect failed: %s", exc)
                continue
            self.reconnects += 1
            with self._lock:
                self._rejoins = deque({"type": "join_room", "room_id": room, "ref": self._joins[room],
                                       **({} if cursor.last_seq is None else {"since_seq": cursor.last_seq})}
                                      for room, cursor in self._rooms.items())
                rest = [p.frame for ref, p in self._pending.items() if p.frame["type"] != "join_room"]
            for _ in range(REJOIN_WINDOW):
                self._rejoin_next()
            for frame in rest:
                self._send(frame)
            return self.backoff_s
        return delay

    def _rejoin_next(self) -> None:
        with self._lock:
            if not self._rejoins:
                return
            frame = self._rejoins.popleft()
            self._pending.setdefault(frame["ref"], _Pending(frame, resume=True))  # a caller's join keeps its waiter
        self._send(frame)

    def _rejoin_refused(self, pending: _Pending, answer: dict[str, Any]) -> bool:
        """A rejoin of the session's own was refused: retried after the wait when rate limited (True);
        otherwise (removed from the room, room deleted) the room is dropped and the error is an event."""
        error = error_from(answer)
        if isinstance(error, RateLimited):
            with self._lock:
                self._pending[pending.frame["ref"]] = pending
            threading.Timer(error.retry_after_s, self._send, [pending.frame]).start()
            return True
        with self._lock:
            self._rooms.pop(pending.frame["room_id"], None)
            self._joins.pop(pending.frame["room_id"], None)
        self._emit(Event("error", answer))
        return False

    def _on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "new_message":
            self._on_message(frame["message"])
            return
        with self._lock:
            pending = self._pending.pop(frame["ref"], None) if "ref" in frame else None
        if pending is None:
            self._emit(Event(str(kind), frame))
            return
        if pending.frame["type"] == "join_room":
            if kind == "user_joined":
                self._settle(frame["room_id"], frame["room"]["last_seq"])
            elif pending.resume and self._rejoin_refused(pending, frame):
                return
            self._rejoin_next()  # each answer lets the next queued rejoin go
        pending.reply = frame
        pending.done.set()

    def _on_message(self, message: dict[str, Any]) -> None:
        room_id = message["room_id"]
        cursor = self._rooms.get(room_id)
        if cursor is None:
            return  # left meanwhile
        for ready in cursor.offer(message, self._fetcher(room_id)):
            self._emit(Event("new_message", {"type": "new_message", "message": ready}))

    def _settle(self, room_id: str, room_last_seq: int) -> None:
        cursor = self._rooms.get(room_id)
        if cursor is not None:
            for ready in cursor.settle(room_last_seq, self._fetcher(room_id)):
                self._emit(Event("new_message", {"type": "new_message", "message": ready}))

    def _fetcher(self, room_id: str) -> Callable[[int, int], list[dict[str, Any]]]:
        return lambda after, before: self.client.messages_between(room_id, after, before)

    def _finish(self, failure: ConfabError | None) -> None:
        """The session is over: fail what waits, end the iterators and the dispatcher."""
        with self._lock:
            if self._failure is None:
                self._failure = failure
            self._closed = True
            pending, self._pending = list(self._pending.values()), {}
        for waiting in pending:
            waiting.done.set()
        self._events.put(_END)
        if self._callbacks is not None:
            self._callbacks.put(_END)
