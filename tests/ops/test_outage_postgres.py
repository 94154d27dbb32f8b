"""PostgreSQL stops for 10 s under a chat and document load, then comes back: a real ``python app.py`` on a
PostgreSQL of the test's own (``pg_ctl``; the machine's shared one is never touched). Requests in the
window are answered UNAVAILABLE with ``retry_after_s`` (REST also with ``Retry-After``), never a 500;
``/ready`` goes 503 and back; Confab reconnects by itself; every acknowledged message and edit is stored
exactly once, seqs and versions gapless. The window of errors and the time to recover are printed
(``pytest -s``)."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest
import requests

from tests.support.chat_load import Sender, assert_stored_exactly_once, error_window, first_ack_after
from tests.support.doc_load import DocEditor, assert_edits_stored_once
from tests.support.harness import ServerProcess, bearer, connect_ws, register, serving, ws_request
from tests.support.private_services import PrivatePostgres
from tests.support.chat_helpers import Api, new_room
from tests.support.waiting import wait_for

OUTAGE_S = 10.0
LIMITS = {"CONFAB_CHAT_SEND_RATE": "100000", "CONFAB_RATE_LIMIT_USER_BURST": "100000",
          "CONFAB_RATE_LIMIT_IP_BURST": "100000", "CONFAB_RATE_LIMIT_IP_RATE_PER_S": "10000",
          "CONFAB_RATE_LIMIT_USER_RATE_PER_S": "10000"}
pytestmark = pytest.mark.timeout(300)


@dataclass(frozen=True)
class Probe:
    at: float
    path: str
    status: int
    code: str | None
    retry_after: str | None


class Prober(threading.Thread):
    """A REST read and ``/ready`` every 0.2 s, as a dashboard and a load balancer would."""

    def __init__(self, server: ServerProcess, token: str, room: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.server, self.token, self.room, self.stop = server, token, room, stop
        self.probes: list[Probe] = []

    def run(self) -> None:
        while not self.stop.is_set():
            for path, headers in ((f"/api/v1/rooms/{self.room}/messages?limit=1", bearer(self.token)),
                                  ("/ready", {})):
                response = requests.get(f"{self.server.base}{path}", headers=headers, timeout=10)
                body = response.json()
                code = body["error"]["code"] if "error" in body else None
                if code == "UNAVAILABLE":
                    assert body["error"]["details"]["retry_after_s"] >= 1
                self.probes.append(Probe(time.monotonic(), path.split("?")[0], response.status_code, code,
                                         response.headers.get("Retry-After")))
            time.sleep(0.2)

    def statuses(self, path_start: str) -> list[tuple[float, int]]:
        return [(p.at, p.status) for p in self.probes if p.path.startswith(path_start)]


@pytest.fixture
def postgres():
    server = PrivatePostgres()
    server.start()
    try:
        yield server
    finally:
        server.close()


def test_postgres_stopping_for_ten_seconds_loses_nothing_acknowledged(tmp_path, postgres):
    with serving(tmp_path / "confab", env={"CONFAB_DATABASE_URL": postgres.url, **LIMITS}) as server:
        ana, bob = register(server.base), register(server.base)
        room = new_room(Api(server.base, ana), name="through-an-outage")
        assert Api(server.base, bob).post(f"/rooms/{room}/join").status_code == 200
        document = Api(server.base, ana).post("/documents", json={"title": "outage"}).json()["id"]
        stop = threading.Event()
        senders = [Sender(server, server, login, [room], stop, retry_cap_s=0.5, pause_s=0.1) for login in (ana, bob)]
        editor = DocEditor(server, ana["access_token"], document, stop)
        prober = Prober(server, bob["access_token"], room, stop)
        for thread in (*senders, editor, prober):
            thread.start()
        wait_for(lambda: all(len(s.acked) >= 10 for s in senders) and len(editor.acked) >= 10 or editor.error,
                 timeout=20)
        assert editor.error is None, repr(editor.error)

        stopped_at = time.monotonic()
        postgres.stop()
        wait_for(lambda: any(p.status == 503 for p in prober.probes if p.at > stopped_at and p.path == "/ready"),
                 timeout=OUTAGE_S)
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped_at)))
        postgres.start()  # returns once it accepts connections
        back_at = time.monotonic()
        counts = [len(s.acked) for s in senders], len(editor.acked)
        wait_for(lambda: all(len(s.acked) >= n + 10 for s, n in zip(senders, counts[0]))
                 and len(editor.acked) >= counts[1] + 10, timeout=60)
        wait_for(lambda: prober.statuses("/ready")[-1][1] == 200, timeout=15)
        stop.set()
        for thread in (*senders, editor, prober):
            thread.join(40)
        assert all(s.error is None for s in senders) and editor.error is None, \
            [repr(s.error) for s in senders] + [repr(editor.error), server.log()]

        # what clients saw: UNAVAILABLE with retry advice, never a 500, and it ended by itself
        assert not [p for p in prober.probes if p.status >= 500 and p.status != 503], server.log()
        unavailable = [p for p in prober.probes if p.status == 503 and p.path != "/ready"]
        assert unavailable and all(p.code == "UNAVAILABLE" and p.retry_after for p in unavailable)
        replies = [o for s in (*senders, editor) for o in s.outcomes
                   if o.kind not in ("ack", "reconnect") and o.op in ("send_message", "edit_document")]
        assert replies and all(o.kind == "UNAVAILABLE" and o.retry_after_s for o in replies), replies
        # nothing acknowledged lost or doubled
        assert_stored_exactly_once(server, ana, [room], senders)
        assert_edits_stored_once(server, ana["access_token"], document, editor)

        windows = {name: error_window(client.outcomes) for name, client in
                   (("chat ana", senders[0]), ("chat bob", senders[1]), ("document", editor))}
        first_acks = {name: first_ack_after(client.outcomes, back_at) - back_at for name, client in
                      (("chat ana", senders[0]), ("chat bob", senders[1]), ("document", editor))}
        rest_503 = [p.at for p in unavailable]
        ready_503 = [at for at, status in prober.statuses("/ready") if status == 503]
        print(f"\nPostgreSQL down {back_at - stopped_at:.1f} s. Errors (s after the stop): "
              + ", ".join(f"{name} {w[0] - stopped_at:.1f}–{w[1] - stopped_at:.1f}" if w else f"{name} none"
                          for name, w in windows.items())
              + f"; REST 503 {min(rest_503) - stopped_at:.1f}–{max(rest_503) - stopped_at:.1f}"
              + f"; /ready 503 {min(ready_503) - stopped_at:.1f}–{max(ready_503) - stopped_at:.1f}. "
              + "First ack after it was back: " + ", ".join(f"{n} {t:.2f} s" for n, t in first_acks.items())
              + f". Acked {sum(len(s.acked) for s in senders)} messages, {len(editor.acked)} edits; "
              + f"{len(replies)} UNAVAILABLE answers, {len(editor.refused)} edits refused.")


def test_a_frame_that_reads_the_database_during_an_outage_is_unavailable(tmp_path, postgres):
    with serving(tmp_path / "confab", env={"CONFAB_DATABASE_URL": postgres.url, **LIMITS}) as server:
        ana = register(server.base)
        room = new_room(Api(server.base, ana), name="joined in an outage")
        document = Api(server.base, ana).post("/documents", json={"title": "joined in an outage"}).json()["id"]
        ws = connect_ws(f"{server.ws_base}/ws", ana["access_token"])
        postgres.stop()
        try:
            answers = [ws_request(ws, {"type": "join_document", "document_id": document}),
                       ws_request(ws, {"type": "join_room", "room_id": room, "since_seq": 0})]
        finally:
            postgres.start()
        assert [a["type"] for a in answers] == ["error", "error"]
        assert [a["error"]["code"] for a in answers] == ["UNAVAILABLE", "UNAVAILABLE"], answers
        assert all(a["error"]["details"]["retry_after_s"] >= 1 for a in answers)
        ws.close()
