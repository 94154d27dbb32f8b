"""Scale-out report (``bench/chat.py --scaleout``): the chat workload of bench/chat.py on one instance and
on two (clients spread across both, alternating), in the same run, on the local PostgreSQL and Redis.

Each cluster size gets a fresh database and Redis prefix (both removed afterwards). Figures per load:
deliveries/s, latencies, and CPU seconds per Confab instance, Redis and PostgreSQL (from /proc, summed
over the processes named ``redis-server`` / ``postgres``), which is where the bottleneck shows.
Loopback only; bounded by ``--conns`` and ``--seconds``. Writes bench/results/scaleout.md.

With two instances the load starts once each holds some of the ``chat.writer`` partitions (``/health``),
so the measured window sees the partitions spread, not the first instance holding all of them.
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import redis
import requests

from bots import create_accounts, create_room
from chat import BENCH, run_load, start_confab, stop
from reporting import fmt as _fmt, write_keeping_findings
from domain.config import BrokerConfig, parse_topics
from tests.support.cluster import POSTGRES_URL, REDIS_URL

SERVICES = ("redis-server", "postgres")
WRITER = "chat.writer"


def service_cpu() -> dict[str, float]:
    """CPU seconds used so far by every process named like one of ``SERVICES``, by name."""
    totals = dict.fromkeys(SERVICES, 0.0)
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            head, tail = (entry / "stat").read_text().rsplit(")", 1)
        except OSError:
            continue
        name = head.split("(", 1)[1]
        if name in totals:
            fields = tail.split()
            totals[name] += (int(fields[11]) + int(fields[12])) / ticks
    return totals


def writer_partitions(base: str) -> list[str]:
    """The ``chat.commands`` partitions whose ``chat.writer`` lease the instance at ``base`` holds."""
    children = requests.get(f"{base}/health", timeout=5).json()["components"]["broker"]["children"]
    return sorted(name for name, child in children.items()
                  if name.startswith("broker.chat.commands.") and WRITER in child.get("held", ()))


def wait_spread(bases: list[str], partitions: int, timeout_s: float = 60.0) -> list[list[str]]:
    """Wait until the writer partitions are spread: all held, none by an instance over its share."""
    share, deadline = -(-partitions // len(bases)), time.monotonic() + timeout_s
    while True:
        held = [writer_partitions(base) for base in bases]
        if sum(map(len, held)) == partitions and max(map(len, held)) <= share or time.monotonic() > deadline:
            return held
        time.sleep(0.5)


def run_cluster(size: int, args: argparse.Namespace, plans: dict[str, dict[str, Any]], work: Path) -> dict[str, Any]:
    database, prefix = "confab_bench_" + uuid.uuid4().hex[:10], "confabbench-" + uuid.uuid4().hex[:8]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    env = {"CONFAB_DATABASE_URL": f"{POSTGRES_URL.rsplit('/', 1)[0]}/{database}", "CONFAB_BROKER_BACKEND": "redis",
           "CONFAB_BROKER_REDIS_URL": REDIS_URL, "CONFAB_BROKER_REDIS_PREFIX": prefix,
           "CONFAB_AUTH_JWT_SECRET": uuid.uuid4().hex * 2}
    servers = []
    try:
        for index in range(size):  # one after the other: the first runs the migrations
            servers.append(start_confab(work / f"{size}-{index}", env))
        bases = [f"http://127.0.0.1:{port}" for _, port in servers]
        per_room = args.conns // args.rooms
        tokens = [login["access_token"] for login in create_accounts(bases[0], args.conns)]
        rooms = [create_room(bases[0], tokens[i * per_room], f"bench-{i}") for i in range(args.rooms)]
        conns = [{"token": tokens[r * per_room + m], "room": rooms[r], "sender": m < args.senders,
                  "url": f"ws://127.0.0.1:{servers[(r * per_room + m) % size][1]}/ws"}
                 for r in range(args.rooms) for m in range(per_room)]
        pids = [proc.pid for proc, _ in servers]
        held = wait_spread(bases, parse_topics(BrokerConfig().topics)["chat.commands"])
        print(f"{size} instance(s): chat.writer partitions held " + " / ".join(str(len(h)) for h in held))
        results = {name: run_load(pids, {"url": conns[0]["url"], "conns": conns, "warmup_s": 2,
                                         "duration_s": args.seconds, **plan}, work, service_cpu)
                   for name, plan in plans.items()}
        print("  after the load: " + " / ".join(str(len(writer_partitions(base))) for base in bases))
        return results
    finally:
        for index, (proc, _) in enumerate(servers):
            stop(proc, work / f"{size}-{index}" / "server.log")
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def run_scaleout(args: argparse.Namespace) -> None:
    per_room = args.conns // args.rooms
    plans: dict[str, dict[str, Any]] = {}
    for target in sorted(float(x) for x in args.paced.split(",")):
        plans[f"paced {target:,.0f}/s"] = {"mode": "paced",
                                           "rate_per_sender": target / (args.rooms * args.senders * per_room)}
    plans["closed"] = {"mode": "closed", "window": args.window}
    with tempfile.TemporaryDirectory() as tmp:
        results = {size: run_cluster(size, args, plans, Path(tmp)) for size in (1, 2)}
    report(args, plans, results)


def report(args: argparse.Namespace, plans: dict[str, Any], results: dict[int, dict[str, Any]]) -> None:
    lines = [
        "# Chat scale-out: one instance against two (PostgreSQL + Redis)",
        "",
        f"{args.conns} sockets in {args.rooms} rooms of {args.conns // args.rooms}, {args.senders} sender(s) per "
        f"room; closed loop: {args.window} messages in flight per sender; paced: {args.paced} deliveries/s in total. "
        f"{args.seconds:.0f} s measured after 2 s warm-up. With two instances the sockets alternate between "
        f"them, so most rooms have members on both. Everything on one machine over loopback ({platform.machine()}, "
        f"{os.cpu_count()} cores shared by the instances, PostgreSQL, Redis and the node load generator, "
        f"Python {platform.python_version()}). CPU is seconds used during the measured window, from /proc.",
        "",
        "| load | instances | deliveries/s | deliver p50 ms | deliver p99 ms | ack p50 ms | ack p99 ms | errors "
        "| CPU s per instance | Redis CPU s | PostgreSQL CPU s | µs/delivery (instances) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for name in plans:
        for size in (1, 2):
            r = results[size][name]
            per = " + ".join(_fmt(c, 1) for c in r["cpu_by_server_s"])
            lines.append(f"| {name} | {size} | {_fmt(r['deliveries_per_s'], 0)} | {_fmt(r['deliver_p50_ms'], 2)} | "
                         f"{_fmt(r['deliver_p99_ms'], 2)} | {_fmt(r['ack_p50_ms'], 2)} | {_fmt(r['ack_p99_ms'], 2)} | "
                         f"{r['errors']} | {per} | {_fmt(r['cpu_others_s']['redis-server'], 1)} | "
                         f"{_fmt(r['cpu_others_s']['postgres'], 1)} | {_fmt(r['us_per_delivery'], 1)} |")
        one, two = results[1][name]["deliveries_per_s"], results[2][name]["deliveries_per_s"]
        lines.append(f"| {name} | scaling 2/1 | {_fmt(two / one if one else None, 2)} | | | | | | | | | |")
    write_keeping_findings(Path(args.out or BENCH / "results" / "scaleout.md"), "\n".join(lines) + "\n")
    print("\n".join(lines))
