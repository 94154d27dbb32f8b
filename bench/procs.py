"""Server processes for the benchmarks: start Confab fresh, read a process's CPU and memory from /proc,
stop it, and what a report says about the machine (load average, open-file limit).

No gevent here: the callers decide (chat.py patches, collab.py does not).
"""
from __future__ import annotations

import os
import platform
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import requests

BENCH = Path(__file__).resolve().parent
#: the Confab checkout the benches start: this one, or another (an older commit's worktree, to compare)
ROOT = Path(os.environ.get("BENCH_CONFAB_ROOT") or BENCH.parent).resolve()

#: Confab as the benchmarks run it: cheap password hashing, long tokens, no rate limit in the way
CONFAB_ENV = {"CONFAB_STATSD_ENABLED": "false", "CONFAB_LOGGING_LEVEL": "WARNING",
              "CONFAB_AUTH_ARGON2_TIME_COST": "1", "CONFAB_AUTH_ARGON2_MEMORY_KIB": "1024",
              "CONFAB_AUTH_ACCESS_TOKEN_TTL_S": "7200", "CONFAB_RATE_LIMIT_ENABLED": "false",
              "CONFAB_CHAT_SEND_RATE": "1000000", "CONFAB_CHAT_SEND_WINDOW_S": "1",
              "CONFAB_SERVER_WS_FRAME_RATE_PER_S": "1000000", "CONFAB_SERVER_WS_FRAME_BURST": "1000000",
              "CONFAB_SERVER_WS_MAX_SOCKETS_PER_USER": "0"}
ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL|Traceback)\b")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the process (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def runqueue_wait_s(pid: int) -> float:
    """Seconds the process's threads were ready to run but waited for a CPU (/proc/<pid>/task/*/schedstat):
    on a shared machine, how much other work got in the server's way."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError):  # a thread that just ended
            continue
    return total / 1e9


def _status_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return 0.0


def rss_mb(pid: int) -> float:
    return _status_mb(pid, "VmRSS:")


def peak_rss_mb(pid: int) -> float:
    return _status_mb(pid, "VmHWM:")


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_confab(data_dir: Path, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, int]:
    """``python app.py`` on a fresh port with its own data folder; its log is ``data_dir/server.log``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), "--data-dir", str(data_dir)],
                            cwd=ROOT, env={**os.environ, **CONFAB_ENV, **(env or {})}, stdout=subprocess.DEVNULL,
                            stderr=open(data_dir / "server.log", "ab"))
    wait_http(f"http://127.0.0.1:{port}/ready")
    return proc, port


def stop(proc: subprocess.Popen, log: Path | None) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        tail = f"; log tail:\n{log.read_text()[-3000:]}" if log else ""
        print(f"server {proc.pid} did not stop in 30 s; killed{tail}", file=sys.stderr)
        proc.kill()
        proc.wait(10)


def wait_idle(pid: int, limit_s: float = 90.0) -> None:
    """Let the server finish its backlog (an overloaded run leaves one) before the next run."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(0.5)
        if cpu_seconds(pid) - before < 0.05:
            return


def log_errors(log: Path) -> list[str]:
    """The ERROR/CRITICAL/Traceback lines of a server log (what a report should mention)."""
    if not log.exists():
        return []
    return [line for line in log.read_text(errors="replace").splitlines() if ERROR_LINE.search(line)]


def raise_open_files() -> int:
    """Raise this process's open-file limit to its hard limit (children inherit it); returns the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def machine() -> str:
    """The machine, for a report (its load average is the caller's, taken at the start and the end)."""
    return (f"{platform.machine()}, {os.cpu_count()} cores shared with other work, Python "
            f"{platform.python_version()}, node {node_version()}")


def code_version() -> str:
    """The commit the servers ran from (with a mark when files outside bench/results differ from it)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()

    dirty = git("status", "--porcelain", "--", ".", ":!bench/results")
    return f"commit {git('rev-parse', '--short', 'HEAD') or 'unknown'}{' with local changes' if dirty else ''}"


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def node_version() -> str:
    try:
        return subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        return "absent"
