"""Dependencies a test may break: its own PostgreSQL (``pg_ctl`` in a temporary folder), its own
``redis-server`` (nothing kept on disk: a restart comes back empty) and a small disk (a tmpfs of a few
MiB that a ballast file fills). All on free ports and private folders, so the machine's shared
PostgreSQL and Redis are never touched. Each is skipped with a reason when the machine lacks what it
needs, and required when ``CI`` is set."""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
import redis

from tests.support.harness import free_port


def _require(what: str, available: bool, reason: str) -> None:
    if available:
        return
    if os.environ.get("CI"):
        raise RuntimeError(f"{what} is required in CI: {reason}")
    pytest.skip(f"{what}: {reason}")


def _wait(ready, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not come up in {timeout}s")


class PrivatePostgres:
    """A PostgreSQL cluster of its own, trust auth, on a free port; ``stop()``/``start()`` at will."""

    def __init__(self) -> None:
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        _require("PostgreSQL binaries", bool(binaries), "no /usr/lib/postgresql/*/bin/pg_ctl")
        self.bin = Path(binaries[-1]).parent
        self.port = free_port()
        # initdb refuses to run as root: run the server as the postgres account, in a folder it owns
        self.user = "postgres" if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="confab-pg-"))
        self.data = self.root / "data"
        if self.user:
            account = pwd.getpwnam(self.user)
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self._run("initdb", "-D", str(self.data), "--auth=trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "start", "-D", str(self.data), "-w", "-l", str(self.root / "postgres.log"),
                  "-o", options)
        _wait(self.accepts, 20, "PostgreSQL")

    def stop(self) -> None:
        """An abrupt stop, as a crash or a failover looks to clients: open connections are cut."""
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")

    def accepts(self) -> bool:
        try:
            psycopg.connect(self.url, connect_timeout=1).close()
            return True
        except psycopg.OperationalError:
            return False

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """A ``redis-server`` of its own that keeps nothing on disk: ``restart()`` brings it back empty."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        _require("redis-server", self.binary is not None, "not on PATH")
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="confab-redis-"))
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = (self.root / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.root)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        _wait(self.accepts, 10, "redis-server")

    def accepts(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        """Killed, as a crash or a restart of a Redis without persistence is: everything in it is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class SmallDisk:
    """A tmpfs of ``size_mib`` MiB; ``fill()`` takes every free byte with a ballast file, ``free()`` gives
    them back. Needs the right to mount (root with CAP_SYS_ADMIN, as here and in CI)."""

    def __init__(self, size_mib: int) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="confab-disk-"))
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}m,mode=0755", "tmpfs",
                                  str(self.path)], capture_output=True, text=True)
        if mounted.returncode != 0:
            self.path.rmdir()
        _require("a size-limited folder (tmpfs)", mounted.returncode == 0, mounted.stderr.strip())
        self.ballast = self.path / "ballast"

    def fill(self) -> None:
        with self.ballast.open("ab", buffering=0) as out:
            for size in (65536, 4096, 1):  # then the last pages too
                try:
                    while out.write(b"\0" * size):
                        pass
                except OSError:
                    continue

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.path).free

    def free(self) -> None:
        self.ballast.unlink(missing_ok=True)

    def close(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], capture_output=True)
        shutil.rmtree(self.path, ignore_errors=True)
