"""The Procfile as a platform runs it, through honcho: ``release`` migrates an empty data folder, ``web``
listens on every interface at ``$PORT`` and drains on SIGTERM."""
from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import requests

from storage import migrations
from tests.support.harness import ROOT, close_code, connect_ws, free_port, register, ws_request

BIN = Path(sys.executable).parent


def honcho(process: str, data_dir: Path, log: Path, **env: str) -> subprocess.Popen:
    """``honcho start <process>`` from the checkout, with this venv's python first on PATH."""
    full_env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "CONFAB_SERVER_DATA_DIR": str(data_dir),
                "CONFAB_STATSD_ENABLED": "false", "CONFAB_AUTH_ARGON2_TIME_COST": "1",
                "CONFAB_AUTH_ARGON2_MEMORY_KIB": "1024", **env}
    full_env.pop("HOST", None)
    with log.open("wb") as out:
        return subprocess.Popen([str(BIN / "honcho"), "start", process], cwd=ROOT, env=full_env, stdout=out,
                                stderr=subprocess.STDOUT)


def outside_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not address.address.startswith("127."):
                return address.address
    return None


def listening(port: int) -> list[str]:
    return [c.laddr.ip for c in psutil.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port]


def test_the_procfile_declares_web_and_release():
    lines = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines()
                 if line and not line.startswith("#"))
    assert set(lines) == {"web", "release"}
    assert "${PORT" in lines["web"] and "0.0.0.0" in lines["web"]
    assert lines["release"].split()[-1] == "migrate"


def test_release_migrates_an_empty_data_folder(tmp_path):
    log = tmp_path / "release.log"
    release = honcho("release", tmp_path / "data", log)
    assert release.wait(timeout=60) == 0, log.read_text()
    with sqlite3.connect(tmp_path / "data" / "confab.db") as db:
        assert db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == migrations.MIGRATIONS[-1].version
    assert "release.1 stopped (rc=0)" in log.read_text()


def test_web_listens_on_every_interface_at_port_and_drains_on_sigterm(tmp_path):
    port, log = free_port(), tmp_path / "web.log"
    web = honcho("web", tmp_path / "data", log, PORT=str(port))
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not listening(port):
            assert web.poll() is None, log.read_text()
            time.sleep(0.1)
        assert listening(port) == ["0.0.0.0"], log.read_text()
        address = outside_address()
        base = f"http://{address or '127.0.0.1'}:{port}"
        while requests.get(f"{base}/ready", timeout=2).status_code != 200:
            time.sleep(0.1)
        token = register(base)["access_token"]
        ws = connect_ws(f"ws://{address or '127.0.0.1'}:{port}/ws", token)
        assert ws_request(ws, {"type": "ping"}) == {"type": "pong"}
        web.send_signal(signal.SIGTERM)
        assert close_code(ws) == 1012
        web.wait(timeout=20)
    finally:
        if web.poll() is None:
            web.kill()
    output = log.read_text()
    assert "shutdown.complete" in output and "web.1 stopped (rc=0)" in output, output
