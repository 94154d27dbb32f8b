"""Steady load for failure tests, as real clients behave: send and wait for the ack; on UNAVAILABLE wait
(at most ``retry_after_s``) and resend the same ``client_msg_id``; on a lost socket reconnect and re-join
with ``since_seq``. Every reply is recorded with its time, so a test can tell the window of errors and
the time to recover. Plus the checks every such test ends with: exactly once, gapless, where the ack said.
"""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import requests
import websocket

from tests.support.harness import ServerProcess, register
from tests.support.chat_helpers import Api, ChatClient, new_room

ACK = "ack"
#: limits out of the way of a load test
UNLIMITED = {"CONFAB_CHAT_SEND_RATE": "100000", "CONFAB_RATE_LIMIT_AUTH_BURST": "1000",
             "CONFAB_RATE_LIMIT_USER_BURST": "10000", "CONFAB_RATE_LIMIT_IP_BURST": "10000"}


@dataclass(frozen=True)
class Outcome:
    at: float  # time.monotonic()
    kind: str  # "ack", an error code, "timeout" or "reconnect"
    retry_after_s: float | None = None
    message: str = ""
    op: str = "send_message"


class Sender(threading.Thread):
    """One user's load (see the module docstring); ``fallback`` is where to reconnect when the socket
    is lost, and ``retry_cap_s`` bounds how long an UNAVAILABLE makes it wait."""

    def __init__(self, instance: ServerProcess, fallback: ServerProcess, login: dict, rooms: list[str],
                 stop: threading.Event, retry_cap_s: float = 0.0, pause_s: float = 0.03) -> None:
        super().__init__(daemon=True)
        self.instance, self.fallback, self.login, self.rooms, self.stop = instance, fallback, login, rooms, stop
        self.retry_cap_s, self.pause_s = retry_cap_s, pause_s
        self.acked: dict[str, tuple[str, int]] = {}  # client_msg_id → (room, seq)
        self.seen: dict[str, set[int]] = {room: set() for room in rooms}
        self.outcomes: list[Outcome] = []
        self.reconnects, self.retries, self.error = 0, 0, None
        self.client = self._connect(instance, since=False)

    def _connect(self, instance: ServerProcess, since: bool) -> ChatClient:
        client = ChatClient(instance.ws_base, self.login)
        for room in self.rooms:
            client.join(room, since_seq=self._contiguous(room) if since else None)
        return client

    def _contiguous(self, room: str) -> int:
        seq = 0
        while seq + 1 in self.seen[room]:
            seq += 1
        return seq

    def _collect(self) -> None:
        for frame in self.client.backlog:
            if frame["type"] == "new_message":
                self.seen[frame["message"]["room_id"]].add(frame["message"]["seq"])
        self.client.backlog.clear()

    def _reconnect(self) -> None:
        self.reconnects += 1
        self.outcomes.append(Outcome(time.monotonic(), "reconnect"))
        deadline = time.monotonic() + 30
        while True:
            try:
                self.client = self._connect(self.fallback, since=True)
                return
            except (websocket.WebSocketException, OSError, AssertionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def run(self) -> None:
        try:
            count = 0
            while not self.stop.is_set():
                room, cmid = self.rooms[count % len(self.rooms)], uuid.uuid4().hex
                count += 1
                self._send_until_acked(room, cmid)
                self._collect()
                time.sleep(self.pause_s)
        except Exception as exc:  # noqa: BLE001 — reported by the test
            self.error = exc

    def _send_until_acked(self, room: str, cmid: str) -> None:
        while True:
            try:
                reply = self.client.request({"type": "send_message", "room_id": room, "content": cmid,
                                             "client_msg_id": cmid}, timeout=30)
            except AssertionError:  # no reply in time: resend, as a client would
                self.outcomes.append(Outcome(time.monotonic(), "timeout"))
                continue
            except (websocket.WebSocketException, OSError):
                self._reconnect()
                continue
            if reply["type"] == "error" and reply["error"]["code"] == "UNAVAILABLE":
                retry_after = reply["error"]["details"].get("retry_after_s")
                self.outcomes.append(Outcome(time.monotonic(), "UNAVAILABLE", retry_after, reply["error"]["message"]))
                self.retries += 1
                time.sleep(min(retry_after or 0, self.retry_cap_s))
                continue
            assert reply["type"] == "ack", reply
            self.outcomes.append(Outcome(time.monotonic(), ACK))
            self.acked[cmid] = (room, reply["message"]["seq"])
            return

    def catch_up(self, last: dict[str, int], timeout: float = 15.0) -> None:
        """Read until every room's seqs 1..last[room] were seen."""
        deadline = time.monotonic() + timeout
        while any(self._contiguous(room) < last[room] for room in self.rooms):
            assert time.monotonic() < deadline, {room: self._contiguous(room) for room in self.rooms}
            try:
                self.client.backlog.append(self.client.recv(1.0))
            except websocket.WebSocketTimeoutException:
                pass
            self._collect()


def members_of_new_rooms(instance: ServerProcess, users: int, rooms: int, name: str) -> tuple[list[dict], list[str]]:
    """``users`` new users (their logins) and ``rooms`` new public rooms (their ids) they are all members of."""
    logins = [register(instance.base) for _ in range(users)]
    room_ids = [new_room(Api(instance.base, logins[0]), name=f"{name}-{i}") for i in range(rooms)]
    for login in logins[1:]:
        for room in room_ids:
            assert Api(instance.base, login).post(f"/rooms/{room}/join").status_code == 200
    return logins, room_ids


def error_window(outcomes: list[Outcome]) -> tuple[float, float] | None:
    """(first, last) time of a reply that was not an ack, or None if every reply was one."""
    failed = [o.at for o in outcomes if o.kind != ACK]
    return (min(failed), max(failed)) if failed else None


def first_ack_after(outcomes: list[Outcome], moment: float) -> float | None:
    return next((o.at for o in outcomes if o.kind == ACK and o.at >= moment), None)


def all_messages(instance: ServerProcess, login: dict, room: str) -> list[dict[str, Any]]:
    api, after, found = Api(instance.base, login), 0, []
    while True:
        page = api.get(f"/rooms/{room}/messages", params={"after_seq": after, "limit": 200}).json()["items"]
        found += page
        if len(page) < 200:
            return found
        after = page[-1]["seq"]


def assert_stored_exactly_once(instance: ServerProcess, login: dict, rooms: list[str],
                               senders: list[Sender]) -> dict[str, int]:
    """Every room's seqs gapless, no client_msg_id twice, every acked message where its ack said.
    Returns each room's last seq."""
    stored = {room: all_messages(instance, login, room) for room in rooms}
    for room in rooms:
        assert [m["seq"] for m in stored[room]] == list(range(1, len(stored[room]) + 1))  # gapless
        cmids = [m["client_msg_id"] for m in stored[room]]
        assert len(cmids) == len(set(cmids))  # exactly once
    by_cmid = {m["client_msg_id"]: (room, m["seq"]) for room in rooms for m in stored[room]}
    for sender in senders:
        for cmid, placed in sender.acked.items():
            assert by_cmid[cmid] == placed  # every acknowledged message, where its ack said
    return {room: len(stored[room]) for room in rooms}


def holder_of(job: str, instances: list[ServerProcess]) -> ServerProcess | None:
    for instance in instances:
        cluster_health = requests.get(f"{instance.base}/health", timeout=2).json()["components"]["cluster"]
        if job in cluster_health.get("singleton_jobs", []):
            return instance
    return None
