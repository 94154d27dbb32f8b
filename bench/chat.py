"""Chat fan-out report: Confab against a bare flask-sock fan-out server on the same stack (the ceiling).

C connections in R rooms, S senders per room, driven by bench/chatload.js (node + ws). For each server:
delivered messages/s, p50/p99 send→deliver and ack latency, server CPU µs per delivery and RSS, both
closed-loop (each sender keeps ``--window`` messages in flight) and paced (``--paced`` deliveries/s in
total). Then how much memory idle authenticated sockets cost. Confab stores every message durably
(SQLite WAL, synchronous=FULL, group commit) before its ack; the bare server stores nothing.

    .venv/bin/python bench/chat.py [--conns 1000 --rooms 50 --senders 1 --seconds 10 --idle 10000]
    .venv/bin/python bench/chat.py --scaleout [--conns 400 --rooms 20 --paced 2000 --seconds 10]

Needs ``npm install`` in bench/ (the ``ws`` package). Writes bench/results/chat.md.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable  # noqa: E402

import requests  # noqa: E402

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))
from bots import create_accounts, create_room  # noqa: E402
from tests.harness import free_port  # noqa: E402

CONFAB_ENV = {"CONFAB_STATSD_ENABLED": "false", "CONFAB_LOGGING_LEVEL": "WARNING",
              "CONFAB_AUTH_ARGON2_TIME_COST": "1", "CONFAB_AUTH_ARGON2_MEMORY_KIB": "1024",
              "CONFAB_AUTH_ACCESS_TOKEN_TTL_S": "7200", "CONFAB_RATE_LIMIT_ENABLED": "false",
              "CONFAB_CHAT_SEND_RATE": "1000000", "CONFAB_CHAT_SEND_WINDOW_S": "1",
              "CONFAB_SERVER_WS_FRAME_RATE_PER_S": "1000000", "CONFAB_SERVER_WS_FRAME_BURST": "1000000",
              "CONFAB_SERVER_WS_MAX_SOCKETS_PER_USER": "0"}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def start_confab(data_dir: Path, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, int]:
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), "--data-dir", str(data_dir)],
                            cwd=ROOT, env={**os.environ, **CONFAB_ENV, **(env or {})}, stdout=subprocess.DEVNULL,
                            stderr=open(data_dir / "server.log", "ab"))
    wait_http(f"http://127.0.0.1:{port}/ready")
    return proc, port


def start_bare() -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(BENCH / "bare_server.py"), str(port)], cwd=ROOT)
    wait_http(f"http://127.0.0.1:{port}/")
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


def run_load(pids: list[int], plan: dict[str, Any], work: Path,
             others: Callable[[], dict[str, float]] = dict) -> dict[str, Any]:
    """Run the node generator; the CPU of the server processes ``pids`` (summed, and each) and of
    ``others()`` (named CPU-second counters, e.g. Redis and PostgreSQL) is read while it measures."""
    path = work / "plan.json"
    path.write_text(json.dumps(plan))
    node = subprocess.Popen(["node", str(BENCH / "chatload.js"), str(path)], stdout=subprocess.PIPE, text=True)
    start: list[float] = []
    start_others: dict[str, float] = {}
    result: dict[str, Any] = {}
    for line in node.stdout:  # type: ignore[union-attr]
        event = json.loads(line)
        if event.get("phase") == "measuring":
            start, start_others = [cpu_seconds(pid) for pid in pids], others()
        elif event.get("phase") == "done":
            result = event
            result["cpu_by_server_s"] = [cpu_seconds(pid) - (start[i] if start else 0.0) for i, pid in enumerate(pids)]
            result["cpu_others_s"] = {k: v - start_others.get(k, 0.0) for k, v in others().items()}
    node.wait()
    if not result:
        raise SystemExit("load generator failed")
    for pid in pids:
        wait_idle(pid)
    result["server_cpu_s"] = sum(result["cpu_by_server_s"])
    result["us_per_delivery"] = result["server_cpu_s"] * 1e6 / max(1, result["delivered"])
    result["rss_mb"] = sum(rss_mb(pid) for pid in pids)
    return result


def idle_sockets(pid: int, url: str, tokens: list[str], count: int, work: Path, room: str) -> dict[str, Any]:
    before = rss_mb(pid)
    conns = [{"token": tokens[i % len(tokens)], "room": room, "sender": False} for i in range(count)]
    path = work / "idle.json"
    path.write_text(json.dumps({"url": url, "conns": conns, "mode": "idle", "connect_concurrency": 100}))
    node = subprocess.Popen(["node", str(BENCH / "chatload.js"), str(path)], stdout=subprocess.PIPE, text=True)
    line = node.stdout.readline()  # type: ignore[union-attr]
    time.sleep(2)
    after = rss_mb(pid)
    node.terminate()
    node.wait()
    opened = json.loads(line)["connected"] if line else 0
    return {"sockets": opened, "rss_before_mb": before, "rss_after_mb": after,
            "kb_per_socket": (after - before) * 1024 / max(1, opened)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conns", type=int, default=1000)
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--senders", type=int, default=1, help="senders per room")
    parser.add_argument("--window", type=int, default=4, help="messages in flight per sender (closed loop)")
    parser.add_argument("--paced", default="20000,5000", help="deliveries/s in total when paced (comma-separated)")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--idle", type=int, default=10000, help="idle sockets to open (0 skips)")
    parser.add_argument("--out", default=None, help="report path (default bench/results/chat.md or scaleout.md)")
    parser.add_argument("--scaleout", action="store_true",
                        help="the same workload on one instance and on two (PostgreSQL + Redis), see bench/scaleout.py")
    args = parser.parse_args()
    if args.scaleout:
        from scaleout import run_scaleout
        run_scaleout(args)
        return
    args.out = args.out or str(BENCH / "results" / "chat.md")
    per_room = args.conns // args.rooms
    rows, idle = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        proc, port = start_confab(work / "confab")
        try:
            base = f"http://127.0.0.1:{port}"
            logins = create_accounts(base, args.conns)
            tokens = [login["access_token"] for login in logins]
            rooms = [create_room(base, tokens[i * per_room], f"bench-{i}") for i in range(args.rooms)]
            conns = [{"token": tokens[r * per_room + m], "room": rooms[r], "sender": m < args.senders}
                     for r in range(args.rooms) for m in range(per_room)]
            plans: dict[str, dict[str, Any]] = {}
            for target in sorted(float(x) for x in args.paced.split(",")):  # lightest first
                plans[f"paced {target:,.0f}/s"] = {"mode": "paced",
                                                   "rate_per_sender": target / (args.rooms * args.senders * per_room)}
            plans["closed"] = {"mode": "closed", "window": args.window}
            confab = {name: run_load([proc.pid], {"url": f"ws://127.0.0.1:{port}/ws", "conns": conns, "warmup_s": 2,
                                                "duration_s": args.seconds, **plan}, work)
                      for name, plan in plans.items()}
            if args.idle:
                idle["confab"] = idle_sockets(proc.pid, f"ws://127.0.0.1:{port}/ws", tokens, args.idle, work, rooms[0])
        finally:
            stop(proc, work / "confab" / "server.log")
        bare_proc, bare_port = start_bare()
        try:
            bare = {name: run_load([bare_proc.pid], {"url": f"ws://127.0.0.1:{bare_port}/ws", "conns": conns,
                                                   "warmup_s": 2, "duration_s": args.seconds, **plan}, work)
                    for name, plan in plans.items()}
            if args.idle:
                idle["bare"] = idle_sockets(bare_proc.pid, f"ws://127.0.0.1:{bare_port}/ws", tokens, args.idle,
                                            work, "r0")
        finally:
            stop(bare_proc, None)
    for name in plans:
        rows.append((name, confab[name], bare[name]))
    report(args, rows, idle)


def _fmt(value: Any, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def report(args: argparse.Namespace, rows: list, idle: dict[str, Any]) -> None:
    lines = [
        "# Chat fan-out: Confab vs a bare flask-sock fan-out server",
        "",
        f"{args.conns} sockets in {args.rooms} rooms of {args.conns // args.rooms}, {args.senders} sender(s) per room; "
        f"closed loop: {args.window} messages in flight per sender; paced: {args.paced} deliveries/s in total. "
        f"{args.seconds:.0f} s measured after 2 s warm-up. Load: node + ws (`bench/chatload.js`) on the same machine "
        f"({platform.machine()}, {os.cpu_count()} cores shared with other work, Python {platform.python_version()}).",
        "Confab stores every message (SQLite WAL, synchronous=FULL, group commit) before its ack; the bare "
        "server (`bench/bare_server.py`) keeps a dict of rooms and stores nothing.",
        "",
        "| load | server | deliveries/s | deliver p50 ms | deliver p99 ms | ack p50 ms | ack p99 ms "
        "| server CPU µs/delivery | RSS MB | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, confab, bare in rows:
        for label, r in (("confab", confab), ("bare", bare)):
            lines.append(f"| {name} | {label} | {_fmt(r['deliveries_per_s'], 0)} | {_fmt(r['deliver_p50_ms'], 2)} | "
                         f"{_fmt(r['deliver_p99_ms'], 2)} | {_fmt(r['ack_p50_ms'], 2)} | {_fmt(r['ack_p99_ms'], 2)} | "
                         f"{_fmt(r['us_per_delivery'], 1)} | {_fmt(r['rss_mb'], 0)} | {r['errors']} |")
        ratio = {k: (confab[k] / bare[k] if confab[k] and bare[k] else None)
                 for k in ("deliveries_per_s", "deliver_p50_ms", "deliver_p99_ms", "ack_p50_ms", "ack_p99_ms",
                           "us_per_delivery", "rss_mb")}
        lines.append(f"| {name} | ratio confab/bare | {_fmt(ratio['deliveries_per_s'], 2)} | "
                     f"{_fmt(ratio['deliver_p50_ms'], 2)} | {_fmt(ratio['deliver_p99_ms'], 2)} | "
                     f"{_fmt(ratio['ack_p50_ms'], 2)} | {_fmt(ratio['ack_p99_ms'], 2)} | "
                     f"{_fmt(ratio['us_per_delivery'], 2)} | {_fmt(ratio['rss_mb'], 2)} | |")
    if idle:
        lines += ["", "Idle authenticated sockets (joined to one room), RSS measured in the server process:", "",
                  "| server | sockets | RSS before MB | RSS after MB | KB per socket |", "|---|---:|---:|---:|---:|"]
        for label, r in idle.items():
            lines.append(f"| {label} | {r['sockets']} | {_fmt(r['rss_before_mb'], 0)} | {_fmt(r['rss_after_mb'], 0)} | "
                         f"{_fmt(r['kb_per_socket'], 1)} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
