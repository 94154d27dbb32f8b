"""The shipped dashboard end to end: Confab → Etsy's statsd → carbon → graphite-web's render API.

A real Confab runs a short real workload (chat over /ws, a document edited over /ws, REST calls with
errors, webhooks that deliver and one that fails and is disabled); then every target of every panel of
``ops/dashboard/grafana.json`` (the same panels as the graphite-web dashboard) must return datapoints.
With Chromium and web/ui's playwright-core it also takes a screenshot of the graphite-web dashboard into
``test-output/dashboard/`` (``CONFAB_UPDATE_SCREENSHOT=1`` copies it to docs/, the README's;
``CONFAB_DASHBOARD_LOAD_S`` makes the workload longer for a fuller picture).

Needs Debian's graphite-carbon and graphite-web, node and ``ops/statsd/node_modules``: skipped with the
reason when one is missing, required in CI (``.ci/run`` installs them).
"""
from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import gevent
import pytest
import requests
from gevent.pywsgi import WSGIServer

from ops import metrics_stack
from ops.metrics_stack import Ports, Stack
from tests.support.harness import ROOT, Server, bearer, connect_ws, free_port, register, running_server, ws_request
from tests.support.browser_env import CHROMIUM, chromium_and_playwright

OUTPUT = ROOT / "test-output" / "dashboard"
LOAD_S = float(os.environ.get("CONFAB_DASHBOARD_LOAD_S", "3"))


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    lacks = metrics_stack.missing()
    if lacks:
        reason = "the dashboard test needs " + "; ".join(lacks)
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (required in CI: .ci/run installs them)")
        pytest.skip(reason)
    ports = Ports(statsd=_free_udp_port(), statsd_admin=free_port(), carbon_line=free_port(),
                  carbon_pickle=free_port(), carbon_query=free_port(), web=free_port())
    running = Stack(tmp_path_factory.mktemp("graphite"), ports, flush_ms=1000, retentions="1s:1h",
                    window_minutes=max(2, math.ceil(LOAD_S / 60) + 1))
    running.start()
    yield running
    running.stop()


@pytest.fixture
def hook_receiver() -> Iterator[str]:
    """A webhook endpoint that answers 200 to everything."""
    def app(_environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    server = WSGIServer(("127.0.0.1", 0), app, log=None)
    server.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.stop()


def drive(server: Server, hook_url: str, seconds: float) -> None:
    """Two users chat in a room with webhooks (one fails and is disabled), one edits a document, the REST
    API is called with and without errors; sockets stay open so the gauges read above zero."""
    ana, bob = register(server.base, "ana"), register(server.base, "bob")
    auth = bearer(ana["access_token"])
    room = requests.post(f"{server.base}/api/v1/rooms", json={"name": "load"}, headers=auth).json()
    requests.post(f"{server.base}/api/v1/rooms/{room['id']}/join", headers=bearer(bob["access_token"]))
    for url in (hook_url, f"http://127.0.0.1:{free_port()}/nobody-listens"):
        created = requests.post(f"{server.base}/api/v1/webhooks", json={"url": url, "events": ["message.created"]},
                                headers=auth)
        assert created.status_code == 201, created.text
    document = requests.post(f"{server.base}/api/v1/documents", json={"title": "notes"}, headers=auth).json()
    writer, reader = connect_ws(f"{server.ws_base}/ws", ana["access_token"]), \
        connect_ws(f"{server.ws_base}/ws", bob["access_token"])
    for ws in (writer, reader):
        assert ws_request(ws, {"type": "join_room", "room_id": room["id"]})["type"] == "user_joined"
    assert ws_request(writer, {"type": "join_document", "document_id": document["id"]})["type"] == "ack"
    received = gevent.spawn(lambda: sum(1 for _ in iter(reader.recv, "")))  # bob reads everything
    deadline, sent = time.monotonic() + seconds, 0
    while sent < 5 or time.monotonic() < deadline:
        ack = retried(writer, {"type": "send_message", "room_id": room["id"], "content": f"load {sent}",
                               "client_msg_id": f"load-{sent}", "ref": f"m{sent}"})
        assert ack["type"] == "ack", ack
        rejoin = {"type": "join_document", "document_id": document["id"], "ref": f"r{sent}"}
        edit = retried(writer, {"type": "edit_document", "document_id": document["id"],
                                "ops": [{"insert": f"line {sent}\n"}], "ref": f"d{sent}"}, rejoin)
        assert edit["type"] == "ack", edit
        requests.get(f"{server.base}/api/v1/rooms", headers=auth)
        requests.get(f"{server.base}/api/v1/rooms/{room['id']}/messages?limit=20", headers=auth)
        if sent % 5 == 0:
            requests.get(f"{server.base}/api/v1/auth/me", headers=bearer("not a token"))
            requests.get(f"{server.base}/api/v1/no-such-route", headers=auth)
        if sent % 10 == 0:  # a document loaded from storage
            other = requests.post(f"{server.base}/api/v1/documents", json={"title": f"n{sent}"}, headers=auth).json()
            assert answer(writer, {"type": "join_document", "document_id": other["id"], "ref": f"j{sent}"})["type"] == "ack"
            answer(writer, {"type": "leave_document", "document_id": other["id"], "ref": f"l{sent}"})
        sent += 1
        gevent.sleep(0.05)
    received.kill()
    hooks = lambda: requests.get(f"{server.base}/api/v1/webhooks", headers=auth).json()  # noqa: E731
    wait_until(lambda: any(not hook["is_active"] for hook in hooks()), "the failing webhook is disabled")


def answer(ws: Any, frame: dict[str, Any]) -> dict[str, Any]:
    """Send ``frame`` and return the server's reply to it (matched by ``ref``), skipping broadcasts."""
    ws.send(json.dumps(frame))
    while True:
        reply = json.loads(ws.recv())
        if reply.get("ref") == frame["ref"]:
            return reply


def retried(ws: Any, frame: dict[str, Any], rejoin: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a client does with UNAVAILABLE (docs/protocol.md): retry the same frame (the same
    ``client_msg_id``), joining a reloaded document again first."""
    for _ in range(5):
        reply = answer(ws, frame)
        if reply["type"] != "error" or reply["error"]["code"] != "UNAVAILABLE":
            return reply
        if rejoin is not None:
            answer(ws, rejoin)
        gevent.sleep(0.2)
    return reply


def wait_until(condition: Any, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not in {timeout_s} s: {what}"
        gevent.sleep(0.25)


def datapoints(stack: Stack, target: str) -> list[float]:
    return [value for series in stack.render(target) for value, _ in series["datapoints"] if value is not None]


@pytest.mark.timeout(300)
def test_every_panel_of_the_dashboard_shows_a_real_workload(stack: Stack, hook_receiver: str, tmp_path: Path):
    started = time.monotonic()
    settings = {"statsd": {"enabled": "true", "port": stack.ports.statsd, "instance": "dashboard-test"},
                "chat": {"send_rate": "100000"}, "rate_limit": {"enabled": "false"},
                "webhooks": {"max_failures": "1", "dispatch_interval_s": "0.2",
                             "allowed_targets": "127.0.0.1/32"}}  # its receiver is on this machine
    with running_server(tmp_path, **settings) as server:
        drive(server, hook_receiver, LOAD_S)
        targets = [target for panel in metrics_stack.panels() for target in panel.targets]
        empty = targets
        deadline = time.monotonic() + 30
        while empty and time.monotonic() < deadline:
            gevent.sleep(0.5)
            empty = [target for target in targets if not datapoints(stack, target)]
        assert not empty, f"no datapoints for {empty}; statsd log: {stack.state_dir / 'logs'}"
        for target in ("aliasByNode(stats.gauges.confab.*.ws.sessions, 3)",
                       "alias(stats.counters.confab.chat.messages.rate, 'messages/s')"):
            assert max(datapoints(stack, target)) > 0, target
        print(f"every panel has datapoints {time.monotonic() - started:.1f} s after Confab started")
        if chromium_and_playwright() or os.environ.get("CI"):
            screenshot(stack)


def screenshot(stack: Stack) -> None:
    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir(parents=True)
    shot = OUTPUT / "dashboard.png"
    result = subprocess.run(["node", str(ROOT / "tests" / "browser" / "dashboard.mjs"), stack.dashboard_url,
                             str(shot), str(len(metrics_stack.panels()))], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "CHROMIUM": str(CHROMIUM)})
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert shot.stat().st_size > 20000
    if os.environ.get("CONFAB_UPDATE_SCREENSHOT"):
        shutil.copyfile(shot, ROOT / "docs" / "screenshot-dashboard.png")
