"""Real servers for tests: in-process (same bootstrap as app.py, on port 0) or as a child process."""
from __future__ import annotations

import json
import logging
import os
import socket
import struct
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import requests
import websocket

import app
from domain.config import AppConfig, build_config

ROOT = Path(__file__).resolve().parents[2]


#: tests that drive load raise the per-user frame budget, as they raise the login limit; the tests of
#: the budget itself set it low again
LOAD_FRIENDLY_FRAMES = {"ws_frame_rate_per_s": "1000", "ws_frame_burst": "10000"}

#: on PostgreSQL, the chat tests that race many senders get a larger connection pool (a storage call
#: holds its connection while it yields) and a send rate the slower commits never trip
POSTGRES_CHAT = {"database": {"pool_size": "30"}, "chat": {"send_rate": "1000", "send_window_s": "1"}}


def test_config(data_dir: Path, **sections: dict[str, Any]) -> AppConfig:
    values: dict[str, dict[str, str]] = {
        "server": {"port": "0", "data_dir": str(data_dir), "shutdown_grace_s": "5", **LOAD_FRIENDLY_FRAMES},
        "statsd": {"enabled": "false"},
        "rate_limit": {"auth_rate_per_s": "1000", "auth_burst": "1000"},
        "auth": {"argon2_time_cost": "1", "argon2_memory_kib": "1024"},
        "logging": {"level": "WARNING"},
    }
    for section, keys in sections.items():
        values.setdefault(section, {}).update({k: str(v) for k, v in keys.items()})
    return build_config(values)


@dataclass
class Server:
    confab: app.Confab
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


@contextmanager
def running_server(data_dir: Path, **sections: dict[str, Any]) -> Iterator[Server]:
    confab = app.bootstrap(test_config(data_dir, **sections))
    confab.server.start()
    try:
        yield Server(confab, confab.server.socket.getsockname()[1])
    finally:
        confab.server.close()
        confab.stop()
        confab.server.stop(timeout=1)


@contextmanager
def server_on(engine: str, data_dir: Path, **sections: dict[str, Any]) -> Iterator[Server]:
    """``running_server`` on SQLite (``engine="sqlite"``) or on a scratch PostgreSQL database."""
    if engine == "sqlite":
        with running_server(data_dir, **sections) as running:
            yield running
        return
    from tests.support import services  # psycopg only where PostgreSQL is used
    with services.scratch_database("confab_" + data_dir.name[:20].replace("-", "_")) as url:
        database = {**sections.pop("database", {}), "url": url}
        with running_server(data_dir, database=database, **sections) as running:
            yield running


def register(base: str, username: str | None = None, password: str = "correct horse") -> dict[str, Any]:
    """Register and log in a fresh user; returns the login body (tokens and user)."""
    username = username or "u" + uuid.uuid4().hex[:10]
    response = requests.post(f"{base}/api/v1/auth/register",
                             json={"username": username, "email": f"{username}@example.com", "password": password})
    assert response.status_code == 201, response.text
    response = requests.post(f"{base}/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def connect_ws(url: str, token: str | None = None, **options: Any) -> websocket.WebSocket:
    header = [f"Authorization: Bearer {token}"] if token else []
    return websocket.create_connection(url, header=header, timeout=5, **options)


def ws_request(ws: websocket.WebSocket, frame: dict[str, Any]) -> dict[str, Any]:
    ws.send(json.dumps(frame))
    return json.loads(ws.recv())


def close_code(ws: websocket.WebSocket, timeout: float = 5.0) -> int | None:
    """Read until the server's close frame; its status code, or None if the socket just ended."""
    ws.settimeout(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            opcode, data = ws.recv_data(control_frame=True)
        except websocket.WebSocketConnectionClosedException:
            return None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
    raise AssertionError("no close frame in time")


class LogRecords(logging.Handler):
    """Every record an in-process server logs at ``level`` or above while installed (``with``)."""

    def __init__(self, level: int = logging.ERROR) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> "LogRecords":
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        logging.getLogger().removeHandler(self)

    def lines(self) -> list[str]:
        return [f"{r.levelname} {r.name} {r.getMessage()} {getattr(r, 'fields', {})}" for r in self.records]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerProcess:
    """``python app.py`` in a child process, as an operator would run it."""

    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self.data_dir = data_dir
        self.log_path = data_dir / "server.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        full_env = {**os.environ, "CONFAB_STATSD_ENABLED": "false", "CONFAB_AUTH_ARGON2_TIME_COST": "1",
                    "CONFAB_AUTH_ARGON2_MEMORY_KIB": "1024",
                    **{f"CONFAB_SERVER_{key.upper()}": value for key, value in LOAD_FRIENDLY_FRAMES.items()},
                    **(env or {})}
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "--port", str(self.port), "--data-dir", str(data_dir), *args],
            cwd=ROOT, env=full_env, stdout=self._log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_base = f"ws://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}: {self.log()}")
            try:
                if requests.get(f"{self.base}/ready", timeout=1).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or a busy machine
                pass
            time.sleep(0.1)
        raise AssertionError(f"server not ready in {timeout}s: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._log.close()


@contextmanager
def serving(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    """``python app.py`` running and ready for the block, killed after it."""
    server = ServerProcess(data_dir, *args, env=env)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


class StatsdReceiver:
    """A real UDP socket standing in for statsd: ``port`` for the config, ``wait_for`` to collect packets."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.packets: list[str] = []

    def wait_for(self, *prefixes: str, timeout: float = 5.0) -> list[str]:
        """Collect packets until one starts with each prefix (or the timeout); returns all received."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(any(p.startswith(w) for p in self.packets) for w in prefixes):
            try:
                self.packets.extend(self.sock.recv(4096).decode().split("\n"))
            except socket.timeout:
                pass
        return self.packets

    def close(self) -> None:
        self.sock.close()
