"""The markdown tables of bench/collab.py (bench/results/collab.md). A hand-written ``## Findings``
section already in the report file is kept below the regenerated tables."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from procs import code_version, machine
from reporting import fmt, ratio, write_keeping_findings

SERVERS = ("confab", "y-websocket", "hocuspocus", "pycrdt-websocket")
RATIO_KEYS = ("updates_per_s", "p50_ms", "p99_ms", "cpu_s", "cpu_ms_per_update", "peak_rss_mb")



def describe(name: str, plan: dict[str, Any]) -> str:
    shape = f"{plan['docs']} doc{'s' if plan['docs'] > 1 else ''} × {plan['clients']} clients × {plan['updates']} inserts"
    pace = f"{plan['rate']:g} inserts/s per client" if plan["mode"] == "paced" else "closed loop"
    return f"{name}: {shape}, {pace}"


def row(load: str, server: str, r: dict[str, Any]) -> str:
    durable = {True: "yes", False: "**no**", None: "no (memory)"}[r["durable"]]
    delivered = "yes" if r["complete"] else f"**no, {r['missing']:,} missing**"
    if r["server_exited"]:
        delivered += " (**the server process exited**; CPU and RSS until then)"
    return (f"| {load} | {server} | {fmt(r['updates_per_s'], 0)} | {fmt(r['p50_ms'], 1)} | {fmt(r['p99_ms'], 1)} | "
            f"{fmt(r['cpu_s'], 2)} | {fmt(r['wait_s'], 2)} | {fmt(r['cpu_ms_per_update'], 3)} | {fmt(r['cpu_us_per_delivery'], 1)} | "
            f"{fmt(r['rss_mb'], 0)} / {fmt(r['peak_rss_mb'], 0)} | {fmt(r['generator_cpu_s'], 1)} | "
            f"{delivered} | {durable} |")


def ratio_row(load: str, peer: str, ours: dict[str, Any], theirs: dict[str, Any]) -> str:
    r = {k: ratio(ours[k], theirs[k]) for k in RATIO_KEYS}
    return (f"| {load} | ratio confab/{peer} | {fmt(r['updates_per_s'], 2)} | {fmt(r['p50_ms'], 2)} | "
            f"{fmt(r['p99_ms'], 2)} | {fmt(r['cpu_s'], 2)} | | {fmt(r['cpu_ms_per_update'], 2)} | | "
            f"{fmt(r['peak_rss_mb'], 2)} (peak) | | | |")


def write_report(args: argparse.Namespace, results: dict[str, dict[str, dict[str, Any]]],
                 log_notes: dict[str, list[str]]) -> None:
    lines = [
        "# Collaborative editing: Confab vs the Node y-websocket server, Hocuspocus and pycrdt-websocket",
        "",
        f"Confab at {code_version()}. Loads (each server started fresh for each load, all in the same run, whole run "
        f"{args.run_s / 60:.1f} min): " + "; ".join(describe(n, p) for n, p in args.plans.items()) + ". "
        "Closed loop: a client's next insert goes out once its previous one has reached every other client "
        "of the document (the same rule for every server). Load generator: one node process "
        "(`bench/collabload.mjs`) with real `yjs` documents, y-websocket's `WebsocketProvider` (Confab's "
        "`/yjs/<id>?token=`, the y-websocket server, pycrdt-websocket) and Hocuspocus's `HocuspocusProvider`; "
        "latency is insert → seen by each other client of the document, from a timestamp in the inserted text "
        f"(one process clock). Loopback only; {machine()}; load average 1/5/15 min at start "
        f"{args.load_before}, at the end {args.load_after}.",
        "",
        "Server CPU is the server process's (all threads) from \"go\" to the last insert seen; CPU per update is "
        "per insert applied, µs/delivery per (insert, receiving client). RSS is at the end of the load / at its "
        "peak (VmHWM). CPU wait is how long the server's threads were ready to run but waited for a core "
        "(/proc/<pid>/task/*/schedstat): the other work on this shared machine in its way. Generator CPU shows "
        "when the load process itself was the limit.",
        "",
        "| load | server | updates/s | p50 ms | p99 ms | server CPU s | server CPU wait s | CPU ms/update "
        "| CPU µs/delivery | RSS MB end / peak | generator CPU s | all delivered | durable |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for load, by_server in results.items():
        lines += [row(load, server, r) for server, r in by_server.items()]
        lines += [ratio_row(load, peer, by_server["confab"], r) for peer, r in by_server.items() if peer != "confab"]
    lines += [
        "",
        "Durable: Confab appends every update to SQLite (WAL, synchronous=FULL) before broadcasting it; 'yes' = "
        "every document's `version` over REST equals the updates sent. The peers keep documents in memory "
        "only: Hocuspocus stores nothing unless an extension (Database, SQLite, …) is configured, and none is "
        "(`bench/hocuspocus_server.mjs`); the Node y-websocket server persists only when `YPERSISTENCE` is set "
        "(LevelDB), and the bench unsets it; pycrdt-websocket's `WebsocketServer` keeps rooms in memory.",
        "",
        "Confab's server log (ERROR, CRITICAL and tracebacks) per load: " + "; ".join(
            f"{name}: {len(errors)} line(s)" for name, errors in log_notes.items()) + ".",
    ]
    for name, errors in log_notes.items():
        lines += [f"- {name}: `{line[:200]}`" for line in errors[:3]]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        write_keeping_findings(Path(args.out), text)
