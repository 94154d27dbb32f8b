"""Chat fan-out report: Confab against a bare flask-sock fan-out server on the same stack (the ceiling).

Parts (``--only`` picks some, comma-separated; each part starts a fresh Confab, then a fresh bare
server, in the same run; the load generator is bench/chatload.js, node + ws):

- ``closed``  C sockets in R rooms (default 1,000 = 50 × 20), S senders per room, each keeping
  ``--window`` messages in flight: deliveries/s, p50/p99 deliver and ack, server CPU µs per delivery.
- ``paced``   the same sockets at ``--paced`` deliveries/s in total (default 20,000 and 5,000).
- ``seed003`` seed 003's target, 5,000 messages/s per instance into rooms of 4: 1,000 sockets in
  250 rooms of 4, every member sending 5 messages/s, paced.
- ``storm``   ``--storm`` sockets (10,000 distinct users) connecting and joining 100 rooms as fast as
  ``--storm-concurrency`` handshakes in flight allow, twice: fresh users (each join makes a member),
  then the same users again once those sockets are gone (members already, as after a restart):
  time to connect + join all, then RSS per socket, the server's CPU and the frames still flowing
  over ``--idle-s`` seconds of idleness after the last join.
- ``stuck``   6 senders × 25 messages/s of 4 KB into one room of 50: the others' deliver p99, then
  one member stops reading (its socket paused) and the same again; how long the server keeps the
  stuck socket (until its descriptor is gone from the server, read in /proc/net/tcp) and how much
  the server's RSS grows meanwhile.

Confab stores every message durably (SQLite WAL, synchronous=FULL, group commit) before its ack;
the bare server stores nothing. Loopback only; every load is bounded in time.

    make bench-chat                                  # every part, writes bench/results/chat.md
    make bench-chat ARGS="--only closed,stuck"       # some parts; tables printed (``--out`` to write)
    .venv/bin/python bench/chat.py --scaleout [--conns 400 --rooms 20 --paced 2000 --seconds 10]

Needs ``npm ci --prefix bench`` (``make bench-chat`` does it).
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable, Iterator  # noqa: E402

import gevent  # noqa: E402

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))
from bots import create_accounts, create_room  # noqa: E402
from chat_report import write_report  # noqa: E402
from profiling import Recording  # noqa: E402
from procs import (cpu_seconds, free_port, load_average, log_errors, raise_open_files, rss_mb,  # noqa: E402
                   runqueue_wait_s, start_confab, stop, wait_http, wait_idle)

PARTS = ("closed", "paced", "seed003", "storm", "stuck")
STORMS = ("first join", "rejoin")


def start_bare() -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(BENCH / "bare_server.py"), str(port)], cwd=ROOT)
    wait_http(f"http://127.0.0.1:{port}/")
    return proc, port


class Servers:
    """Starts each server fresh, stops it, and keeps what its log said (ERROR lines) for the report."""

    def __init__(self, work: Path) -> None:
        self.work, self.log_notes = work, {}

    @contextmanager
    def confab(self, name: str) -> Iterator[tuple[int, str]]:
        folder = self.work / f"confab-{name}"
        proc, port = start_confab(folder)
        try:
            yield proc.pid, f"127.0.0.1:{port}"
        finally:
            stop(proc, folder / "server.log")
            self.log_notes[name] = log_errors(folder / "server.log")

    @contextmanager
    def bare(self) -> Iterator[tuple[int, str]]:
        proc, port = start_bare()
        try:
            yield proc.pid, f"127.0.0.1:{port}"
        finally:
            stop(proc, None)


def run_phases(pids: list[int], plan: dict[str, Any], work: Path, others: Callable[[], dict[str, float]] = dict,
               on_event: Callable[[dict[str, Any]], None] = lambda event: None,
               profile: Path | None = None) -> list[dict[str, Any]]:
    """Run the node generator; for each measured phase, its figures plus the CPU of the server processes
    ``pids`` (summed, and each) and of ``others()`` (named CPU-second counters, e.g. Redis) meanwhile.
    With ``profile``, py-spy records the first server during the (first) measured phase into that file."""
    path = work / "plan.json"
    path.write_text(json.dumps(plan))
    node = subprocess.Popen(["node", str(BENCH / "chatload.js"), str(path)], stdout=subprocess.PIPE, text=True)
    start: list[float] = []
    start_others: dict[str, float] = {}
    start_generator = start_wait = 0.0
    results: list[dict[str, Any]] = []
    recording: Recording | None = None
    for line in node.stdout:  # type: ignore[union-attr]
        event = json.loads(line)
        on_event(event)
        if event.get("phase") == "measuring":
            if profile is not None and not results:
                recording = Recording(pids[0], profile)
            start, start_others = [cpu_seconds(pid) for pid in pids], others()
            start_generator, start_wait = cpu_seconds(node.pid), sum(map(runqueue_wait_s, pids))
        elif event.get("phase") == "done":  # figures first: the generator exits soon after "done"
            event["generator_cpu_percent"] = (cpu_seconds(node.pid) - start_generator) * 100 / event["seconds"]
            event["server_wait_s"] = sum(map(runqueue_wait_s, pids)) - start_wait
            event["cpu_by_server_s"] = [cpu_seconds(pid) - start[i] for i, pid in enumerate(pids)]
            event["cpu_others_s"] = {k: v - start_others.get(k, 0.0) for k, v in others().items()}
            event["server_cpu_s"] = sum(event["cpu_by_server_s"])
            event["us_per_delivery"] = event["server_cpu_s"] * 1e6 / max(1, event["delivered"])
            event["rss_mb"] = sum(rss_mb(pid) for pid in pids)
            results.append(event)
            if recording is not None:
                print(f"profile: {recording.stop()}", file=sys.stderr)
                recording = None
    node.wait()
    if node.returncode or not results:
        raise SystemExit("load generator failed")
    for pid in pids:
        wait_idle(pid)
    return results


def run_load(pids: list[int], plan: dict[str, Any], work: Path,
             others: Callable[[], dict[str, float]] = dict, profile: Path | None = None) -> dict[str, Any]:
    """One measured phase (bench/scaleout.py uses this too)."""
    return run_phases(pids, plan, work, others, profile=profile)[0]


def users_and_rooms(base: str, rooms: int, per_room: int, senders: int) -> list[dict[str, Any]]:
    """``rooms`` × ``per_room`` fresh users, one room each group (its first user creates it), as the
    generator's ``conns``; the first ``senders`` of each room send. Members join with ``join_room``."""
    tokens = [login["access_token"] for login in create_accounts(base, rooms * per_room, concurrency=32)]
    ids = [create_room(base, tokens[r * per_room], f"bench-{r}") for r in range(rooms)]
    return [{"token": tokens[r * per_room + m], "room": ids[r], "sender": m < senders}
            for r in range(rooms) for m in range(per_room)]


def fanout_plans(args: argparse.Namespace, parts: set[str]) -> dict[str, dict[str, Any]]:
    per_room = args.conns // args.rooms
    plans: dict[str, dict[str, Any]] = {}
    if "paced" in parts:
        for target in sorted(float(x) for x in args.paced.split(",")):  # lightest first
            plans[f"paced {target:,.0f}/s"] = {"mode": "paced",
                                               "rate_per_sender": target / (args.rooms * args.senders * per_room)}
    if "closed" in parts:
        plans["closed"] = {"mode": "closed", "window": args.window}
    return plans


def part_fanout(servers: Servers, args: argparse.Namespace, parts: set[str]) -> dict[str, Any]:
    plans = fanout_plans(args, parts)
    results: dict[str, dict[str, Any]] = {}
    with servers.confab("fanout") as (pid, addr):
        conns = users_and_rooms(f"http://{addr}", args.rooms, args.conns // args.rooms, args.senders)
        results["confab"] = {name: run_load([pid], {"url": f"ws://{addr}/ws", "conns": conns, "warmup_s": 2,
                                                   "duration_s": args.seconds, **plan}, servers.work,
                                            profile=args.profile and args.profile / f"chat-{_file_name(name)}.raw")
                             for name, plan in plans.items()}
    with servers.bare() as (pid, addr):
        results["bare"] = {name: run_load([pid], {"url": f"ws://{addr}/ws", "conns": conns, "warmup_s": 2,
                                                 "duration_s": args.seconds, **plan}, servers.work)
                           for name, plan in plans.items()}
    return {name: (results["confab"][name], results["bare"][name]) for name in plans}


def _file_name(load: str) -> str:
    return load.replace(",", "").replace("/s", "").replace(" ", "-")  # "paced 20,000/s" → "paced-20000"


def part_seed003(servers: Servers, args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    rooms = args.seed003_conns // 4
    plan = {"mode": "paced", "rate_per_sender": args.seed003_rate / args.seed003_conns, "warmup_s": 2,
            "duration_s": args.seconds}
    with servers.confab("seed003") as (pid, addr):
        conns = users_and_rooms(f"http://{addr}", rooms, 4, 4)
        confab = run_load([pid], {"url": f"ws://{addr}/ws", "conns": conns, **plan}, servers.work,
                          profile=args.profile and args.profile / "chat-seed003.raw")
    with servers.bare() as (pid, addr):
        bare = run_load([pid], {"url": f"ws://{addr}/ws", "conns": conns, **plan}, servers.work)
    return confab, bare


def storm_once(pid: int, addr: str, conns: list[dict[str, Any]], args: argparse.Namespace,
               work: Path) -> dict[str, Any]:
    wait_idle(pid)
    before = rss_mb(pid)
    path = work / "storm.json"
    path.write_text(json.dumps({"url": f"ws://{addr}/ws", "conns": conns, "mode": "storm", "idle_s": args.idle_s,
                                "connect_concurrency": args.storm_concurrency, "give_up_s": 120}))
    node = subprocess.Popen(["node", str(BENCH / "chatload.js"), str(path)], stdout=subprocess.PIPE, text=True)
    result: dict[str, Any] = {"rss_before_mb": before}
    cpu_start, wait_start = cpu_seconds(pid), runqueue_wait_s(pid)
    try:
        for line in node.stdout:  # type: ignore[union-attr]
            event = json.loads(line)
            if event["phase"] == "joined":
                result.update(event)
                result["rss_joined_mb"], cpu_idle_start = rss_mb(pid), cpu_seconds(pid)
                result["connect_cpu_s"] = cpu_idle_start - cpu_start
                result["connect_wait_s"] = runqueue_wait_s(pid) - wait_start
            elif event["phase"] == "idle_done":
                result["idle_cpu_percent"] = (cpu_seconds(pid) - cpu_idle_start) * 100 / args.idle_s
                result["rss_after_mb"] = rss_mb(pid)
                result["idle_frames"], result["idle_frames_by_type"] = event["frames"], event["frames_by_type"]
                break
    finally:
        node.terminate()
        node.wait(30)
    if "idle_frames" not in result:
        raise SystemExit("storm generator failed")
    result["kb_per_socket"] = (result["rss_after_mb"] - before) * 1024 / max(1, result["connected"])
    return result


def part_storm(servers: Servers, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Two storms per server: fresh users joining (each join makes a member: a user_joined to the room),
    then, once those sockets are gone, the same users reconnecting and rejoining (as after a restart)."""
    results: dict[str, dict[str, Any]] = {}
    with servers.confab("storm") as (pid, addr):
        conns = users_and_rooms(f"http://{addr}", args.storm_rooms, args.storm // args.storm_rooms, 0)
        results["confab"] = {storm: storm_once(pid, addr, conns, args, servers.work) for storm in STORMS}
    with servers.bare() as (pid, addr):
        results["bare"] = {storm: storm_once(pid, addr, conns, args, servers.work) for storm in STORMS}
    return results


def server_side_socket(server_port: int, client_port: int) -> int | None:
    """The inode of the server's end of a loopback TCP connection (0 once no process holds it), or None."""
    wanted = (f"{server_port:04X}", f"{client_port:04X}")
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if (fields[1].rsplit(":", 1)[1], fields[2].rsplit(":", 1)[1]) == wanted:
            return int(fields[9])
    return None


def stuck_once(pid: int, addr: str, conns: list[dict[str, Any]], args: argparse.Namespace,
               work: Path) -> dict[str, Any]:
    server_port = int(addr.rsplit(":", 1)[1])
    watch: dict[str, Any] = {}

    def watch_stuck(client_port: int) -> None:
        paused_at, rss0 = time.monotonic(), rss_mb(pid)
        watch.update(rss_at_pause_mb=rss0, rss_max_mb=rss0, kept_s=None)
        while time.monotonic() - paused_at < args.stuck_seconds - 1:  # not the generator's own teardown
            watch["rss_max_mb"] = max(watch["rss_max_mb"], rss_mb(pid))
            if not server_side_socket(server_port, client_port):
                watch["kept_s"] = time.monotonic() - paused_at
                break
            gevent.sleep(0.1)

    def on_event(event: dict[str, Any]) -> None:
        if event.get("phase") == "paused":
            watch["greenlet"] = gevent.spawn(watch_stuck, event["local_port"])

    plan = {"url": f"ws://{addr}/ws", "conns": conns, "mode": "paced", "rate_per_sender": args.stuck_rate,
            "content_bytes": 4000, "warmup_s": 2,
            "phases": [{"name": "all reading", "duration_s": args.seconds},
                       {"name": "one stuck", "duration_s": args.stuck_seconds, "pause": len(conns) - 1}]}
    baseline, stuck = run_phases([pid], plan, work, on_event=on_event)
    watch.pop("greenlet").join()
    return {"baseline": baseline, "stuck": stuck, **watch}


def part_stuck(servers: Servers, args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    with servers.confab("stuck") as (pid, addr):
        conns = users_and_rooms(f"http://{addr}", 1, args.stuck_members, args.stuck_senders)
        confab = stuck_once(pid, addr, conns, args, servers.work)
    with servers.bare() as (pid, addr):
        bare = stuck_once(pid, addr, conns, args, servers.work)
    return confab, bare


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(PARTS), help=f"parts to run, comma-separated: {','.join(PARTS)}")
    parser.add_argument("--conns", type=int, default=1000)
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--senders", type=int, default=1, help="senders per room")
    parser.add_argument("--window", type=int, default=4, help="messages in flight per sender (closed loop)")
    parser.add_argument("--paced", default="20000,5000", help="deliveries/s in total when paced (comma-separated)")
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per load (after 2 s warm-up)")
    parser.add_argument("--seed003-conns", type=int, default=1000, help="sockets in rooms of 4 (seed003)")
    parser.add_argument("--seed003-rate", type=float, default=5000, help="messages/s sent in total (seed003)")
    parser.add_argument("--storm", type=int, default=10000, help="sockets in the connection storm")
    parser.add_argument("--storm-rooms", type=int, default=100)
    parser.add_argument("--storm-concurrency", type=int, default=1000, help="handshakes in flight in the storm")
    parser.add_argument("--idle-s", type=float, default=10, help="idle seconds watched after the storm")
    parser.add_argument("--stuck-members", type=int, default=50)
    parser.add_argument("--stuck-senders", type=int, default=6)
    parser.add_argument("--stuck-rate", type=float, default=25, help="messages/s per sender (4 KB each)")
    parser.add_argument("--stuck-seconds", type=float, default=30, help="how long one member stays stuck")
    parser.add_argument("--out", default=None,
                        help="report path (default bench/results/chat.md when every part runs, else none)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="record Confab with py-spy during each closed/paced load into this folder "
                             "(summarise with bench/profiling.py)")
    parser.add_argument("--scaleout", action="store_true",
                        help="the same workload on one instance and on two (PostgreSQL + Redis), see bench/scaleout.py")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    if args.scaleout:
        from scaleout import run_scaleout
        run_scaleout(args)
        return
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    if parts - set(PARTS):
        raise SystemExit(f"unknown part(s): {', '.join(sorted(parts - set(PARTS)))}; choose from {', '.join(PARTS)}")
    if args.out is None and parts == set(PARTS):
        args.out = str(BENCH / "results" / "chat.md")
    args.open_files = raise_open_files()
    args.load_before = load_average()
    started = time.monotonic()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        servers = Servers(Path(tmp))
        if parts & {"closed", "paced"}:
            results["fanout"] = part_fanout(servers, args, parts)
        if "seed003" in parts:
            results["seed003"] = part_seed003(servers, args)
        if "stuck" in parts:
            results["stuck"] = part_stuck(servers, args)
        if "storm" in parts:
            results["storm"] = part_storm(servers, args)
    args.load_after, args.run_s = load_average(), time.monotonic() - started
    write_report(args, results, servers.log_notes)


if __name__ == "__main__":
    main()
