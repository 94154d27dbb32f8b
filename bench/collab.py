"""Collaborative editing report: Confab's /yjs against three Yjs servers on the same workloads, same run.

Peers, each started by this bench, fresh for every load: the Node y-websocket server (npm
``@y/websocket-server``, its own ``server.js``), Hocuspocus (``@hocuspocus/server``, bench/hocuspocus_server.mjs)
and PyPI's pycrdt-websocket (its own virtualenv, bench/.peer-venv). The load generator is one node
process (bench/collabload.mjs) with real Yjs documents behind real providers: y-websocket's
WebsocketProvider for Confab (``/yjs/<id>?token=``), the y-websocket server and pycrdt-websocket, and
HocuspocusProvider for Hocuspocus (its own protocol). Each client inserts small strings into the
Y.Text ``content``; latency is insert → seen by each other client of the document (timestamp in the
text, one process clock). Loads:

- ``paced``:  D documents × C clients, each inserting ``--rate`` times a second (default 10 × 5 at 20/s).
- ``closed``: the same documents, each client keeping one insert in flight: its next insert goes out
  once its previous one has reached every other client of the document (the same rule for every
  server; none of them acknowledges an update to its sender in the y-websocket protocol).
- ``hot``:    one document × ``--hot-clients`` (50) clients, closed loop (fan-out 49); ``--hot-rate``
  paces it instead.

Per server: updates/s, p50/p99, the server process's CPU seconds (/proc/<pid>/stat, all its threads)
and CPU per applied update, RSS at the end and at its peak, and for Confab whether every update is
durable (every document's ``version`` over REST equals the updates sent). Loopback only; every load
is bounded by ``--timeout`` seconds.

    make bench-collab [ARGS="--updates 100 --only paced,hot"]

``npm ci --prefix bench`` installs the node packages (``make bench-collab`` does); the pycrdt peer
installs itself into bench/.peer-venv on first run (``--peer-python`` uses another Python that has
``PEER_REQUIREMENTS``). This file runs itself under it with ``--serve-peer PORT``. Writes
bench/results/collab.md when every load and server runs.
"""
import sys

if "--serve-peer" in sys.argv:  # the pycrdt peer server: asyncio + uvicorn, no gevent in this process
    import asyncio
    import warnings

    import uvicorn
    from pycrdt.websocket import ASGIServer, WebsocketServer

    async def _serve_peer(port: int) -> None:
        websocket_server = WebsocketServer()
        server = uvicorn.Server(uvicorn.Config(ASGIServer(websocket_server), host="127.0.0.1", port=port,
                                               log_level="warning", ws="websockets"))
        async with websocket_server:
            await server.serve()

    warnings.filterwarnings("ignore", message="The `websockets` implementation is deprecated")  # 0.54's notice
    asyncio.run(_serve_peer(int(sys.argv[sys.argv.index("--serve-peer") + 1])))
    sys.exit(0)

from gevent import monkey  # noqa: E402

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import venv  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Iterator  # noqa: E402

import gevent  # noqa: E402
import requests  # noqa: E402

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
from bots import create_account  # noqa: E402
from collab_report import SERVERS, write_report  # noqa: E402
from profiling import Recording  # noqa: E402
from procs import (cpu_seconds, free_port, load_average, log_errors, peak_rss_mb, rss_mb,  # noqa: E402
                   runqueue_wait_s, start_confab, stop)

#: the pycrdt peer and its whole dependency closure, pinned: the figures must not move with PyPI
PEER_REQUIREMENTS = ("pycrdt-websocket==0.16.5", "uvicorn==0.54.0", "websockets==17.4", "pycrdt==0.14.13",
                     "pycrdt-store==0.1.5", "sqlite-anyio==0.2.10", "anyio==4.16.0", "click==8.5.1",
                     "h11==0.16.0", "idna==3.20", "typing_extensions==4.16.0")
PEER_VENV = BENCH / ".peer-venv"
LOADS = ("paced", "closed", "hot")


def peer_python() -> str:
    """The peer virtualenv's Python, created and installed on first use (a stamp records the pins)."""
    python = PEER_VENV / "bin" / "python"
    stamp = PEER_VENV / "requirements.txt"
    wanted = "\n".join(PEER_REQUIREMENTS) + "\n"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return str(python)
    print(f"installing the peer into {PEER_VENV.relative_to(ROOT)} (first run)", file=sys.stderr)
    if not python.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(PEER_VENV)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    *PEER_REQUIREMENTS], check=True, timeout=600)
    stamp.write_text(wanted)
    return str(python)


def wait_tcp(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server {proc.args} did not listen on {port}")


class Target:
    """One server under load: its process, the documents the generator opens, and (Confab) a check
    that every update is durable."""

    def __init__(self, pid: int, protocol: str, docs: list[dict[str, Any]]) -> None:
        self.pid, self.protocol, self.docs = pid, protocol, docs
        self.versions = lambda: None  # Confab: every document's stored version

    def durable(self, updates_per_doc: int) -> bool | None:
        versions = self.versions()
        return None if versions is None else all(v == updates_per_doc for v in versions)


@contextmanager
def confab(work: Path, docs: int, notes: dict[str, list[str]], name: str) -> Iterator[Target]:
    folder = work / f"confab-{name}"
    proc, port = start_confab(folder)
    try:
        base = f"http://127.0.0.1:{port}"
        token = create_account(base)["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        ids = [requests.post(f"{base}/api/v1/documents", json={"title": f"bench {i}"}, headers=auth).json()["id"]
               for i in range(docs)]
        target = Target(proc.pid, "y-websocket",
                        [{"url": f"ws://127.0.0.1:{port}/yjs", "room": doc, "params": {"token": token}} for doc in ids])
        target.versions = lambda: [requests.get(f"{base}/api/v1/documents/{doc}", headers=auth).json()["version"]
                                   for doc in ids]
        yield target
    finally:
        stop(proc, folder / "server.log")
        notes[name] = log_errors(folder / "server.log")


@contextmanager
def peer(kind: str, docs: int, python: str) -> Iterator[Target]:
    port = free_port()
    command = {"y-websocket": ["node", str(BENCH / "node_modules/@y/websocket-server/src/server.js")],
               "hocuspocus": ["node", str(BENCH / "hocuspocus_server.mjs"), str(port)],
               "pycrdt-websocket": [python, __file__, "--serve-peer", str(port)]}[kind]
    # HOST/PORT: the y-websocket server's settings; without YPERSISTENCE it keeps documents in memory only
    env = {**{k: v for k, v in os.environ.items() if k != "YPERSISTENCE"}, "HOST": "127.0.0.1", "PORT": str(port)}
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_tcp(port, proc)
        stamp = time.time_ns()
        yield Target(proc.pid, "hocuspocus" if kind == "hocuspocus" else "y-websocket",
                     [{"url": f"ws://127.0.0.1:{port}", "room": f"bench-{stamp}-{i}"} for i in range(docs)])
    finally:  # it stores nothing: no graceful stop to wait for (uvicorn's would wait for open websockets)
        proc.kill()
        proc.wait(10)


def drive(target: Target, load: dict[str, Any], work: Path, timeout_s: float,
          profile: Path | None = None) -> dict[str, Any]:
    """Run the generator against ``target``; the server's CPU is read between "go" and "done" (and,
    with ``profile``, py-spy records it meanwhile into that file)."""
    path = work / "collab-plan.json"
    path.write_text(json.dumps({**load, "protocol": target.protocol, "docs": target.docs, "timeout_s": timeout_s}))
    node = subprocess.Popen(["node", str(BENCH / "collabload.mjs"), str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=BENCH)
    result: dict[str, Any] = {}
    recording: Recording | None = None
    watch = Watch(target.pid)
    try:
        for line in node.stdout:  # type: ignore[union-attr]
            event = json.loads(line)
            if event["phase"] == "ready":
                recording = Recording(target.pid, profile) if profile is not None else None
                before = watch.now()
                node.stdin.write("go\n")  # type: ignore[union-attr]
                node.stdin.flush()  # type: ignore[union-attr]
            elif event["phase"] == "done":
                after = watch.now()
                if recording is not None:
                    print(f"profile: {recording.stop()}", file=sys.stderr)
                result = {**event, "cpu_s": after["cpu"] - before["cpu"], "wait_s": after["wait"] - before["wait"],
                          "rss_mb": after["rss"], "peak_rss_mb": after["peak"], "server_exited": watch.exited}
                break
            else:
                raise SystemExit(f"load generator: {event}")
    finally:
        watch.greenlet.kill()
        node.stdin.close()  # type: ignore[union-attr]
        node.wait(60)
    if not result:
        raise SystemExit("load generator failed")
    result["cpu_ms_per_update"] = result["cpu_s"] * 1000 / max(1, result["sent"])
    result["cpu_us_per_delivery"] = result["cpu_s"] * 1e6 / max(1, result["deliveries"])
    result["durable"] = target.durable(load["clients"] * load["updates"])
    return result


class Watch:
    """The server's CPU, CPU wait and memory, sampled every 0.25 s so that a server that exits during a
    load (and is reaped at once) still has figures: the last ones seen."""

    def __init__(self, pid: int) -> None:
        self.pid, self.exited = pid, False
        self.last = self._read()
        self.greenlet = gevent.spawn(self._run)

    def _read(self) -> dict[str, float] | None:
        try:
            return {"cpu": cpu_seconds(self.pid), "wait": runqueue_wait_s(self.pid), "rss": rss_mb(self.pid),
                    "peak": peak_rss_mb(self.pid)}
        except OSError:
            return None

    def _run(self) -> None:
        while not self.exited:
            self.now()
            gevent.sleep(0.25)

    def now(self) -> dict[str, float]:
        latest = self._read()
        if latest is None:
            self.exited = True
        else:
            self.last = latest
        if self.last is None:
            raise SystemExit(f"server {self.pid} exited before the load")
        return self.last


def load_plans(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    hot_mode = {"mode": "paced", "rate": args.hot_rate} if args.hot_rate else {"mode": "closed"}
    plans = {"paced": {"docs": args.docs, "clients": args.clients, "mode": "paced", "rate": args.rate,
                       "updates": args.updates},
             "closed": {"docs": args.docs, "clients": args.clients, "mode": "closed", "updates": args.updates},
             "hot": {"docs": 1, "clients": args.hot_clients, "updates": args.updates, **hot_mode}}
    return {name: plans[name] for name in LOADS if name in args.loads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(LOADS), help=f"loads to run, comma-separated: {','.join(LOADS)}")
    parser.add_argument("--servers", default=",".join(SERVERS), help="servers, comma-separated (confab first)")
    parser.add_argument("--docs", type=int, default=10)
    parser.add_argument("--clients", type=int, default=5, help="clients per document (paced, closed)")
    parser.add_argument("--rate", type=float, default=20.0, help="inserts/s per client (paced)")
    parser.add_argument("--updates", type=int, default=100, help="inserts per client (every load)")
    parser.add_argument("--hot-clients", type=int, default=50)
    parser.add_argument("--hot-rate", type=float, default=0.0, help="inserts/s per client on the hot document "
                                                                    "(0: closed loop)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds a load may take per server")
    parser.add_argument("--peer-python", help="a Python with PEER_REQUIREMENTS (default: bench/.peer-venv)")
    parser.add_argument("--out", default=None, help="report path (default bench/results/collab.md on a full run)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="record Confab with py-spy during each load into this folder (see bench/profiling.py)")
    args = parser.parse_args()
    args.loads = [x.strip() for x in args.only.split(",") if x.strip()]
    servers = [x.strip() for x in args.servers.split(",") if x.strip()]
    if set(args.loads) - set(LOADS) or set(servers) - set(SERVERS) or "confab" not in servers:
        raise SystemExit(f"loads: {', '.join(LOADS)}; servers: {', '.join(SERVERS)} (confab among them)")
    if args.out is None and set(args.loads) == set(LOADS) and set(servers) == set(SERVERS):
        args.out = str(BENCH / "results" / "collab.md")
    python = args.peer_python or (peer_python() if "pycrdt-websocket" in servers else sys.executable)
    args.load_before, started = load_average(), time.monotonic()
    results: dict[str, dict[str, dict[str, Any]]] = {}
    notes: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, load in load_plans(args).items():
            results[name] = {}
            for kind in servers:
                server = confab(work, load["docs"], notes, name) if kind == "confab" else peer(kind, load["docs"],
                                                                                                python)
                with server as target:
                    profile = args.profile / f"collab-{name}.raw" if args.profile and kind == "confab" else None
                    results[name][kind] = drive(target, load, work, args.timeout, profile)
                print(f"{name} {kind}: {results[name][kind]['updates_per_s']:.0f} updates/s, "
                      f"p99 {results[name][kind]['p99_ms']:.1f} ms, CPU {results[name][kind]['cpu_s']:.2f} s",
                      file=sys.stderr)
    args.load_after, args.run_s, args.plans = load_average(), time.monotonic() - started, load_plans(args)
    write_report(args, results, notes)


if __name__ == "__main__":
    main()
