"""Graceful shutdown of the real server process: sockets get 1012 (service restart), the process exits 0."""
import signal
import time

import requests

from tests.support.harness import ServerProcess, close_code, connect_ws, register, ws_request


def test_sigterm_closes_websockets_with_1012_and_exits_zero(tmp_path):
    server = ServerProcess(tmp_path)
    try:
        server.wait_ready()
        token = register(server.base)["access_token"]
        sockets = [connect_ws(f"{server.ws_base}/ws", token) for _ in range(2)]
        for ws in sockets:
            assert ws_request(ws, {"type": "ping"}) == {"type": "pong"}
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert [close_code(ws) for ws in sockets] == [1012, 1012]
        assert server.process.wait(timeout=15) == 0
        assert time.monotonic() - started < 10
        log = server.log()
        assert "shutdown.complete" in log and "server.stopped" in log
    finally:
        server.stop()


def test_restart_keeps_accounts(tmp_path):
    first = ServerProcess(tmp_path)
    try:
        first.wait_ready()
        register(first.base, "persisted")
        first.process.send_signal(signal.SIGTERM)
        assert first.process.wait(timeout=15) == 0
    finally:
        first.stop()
    second = ServerProcess(tmp_path)
    try:
        second.wait_ready()
        login = requests.post(f"{second.base}/api/v1/auth/login",
                              json={"username": "persisted", "password": "correct horse"})
        assert login.status_code == 200
    finally:
        second.stop()
