"""The markdown tables of bench/chat.py (bench/results/chat.md). A hand-written ``## Findings`` section
already in the report file is kept below the regenerated tables."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from procs import code_version, machine
from reporting import fmt, ratio, write_keeping_findings

LATENCY_KEYS = ("deliver_p50_ms", "deliver_p99_ms", "ack_p50_ms", "ack_p99_ms")




def header(args: argparse.Namespace, parts: list[str]) -> list[str]:
    return [
        "# Chat fan-out: Confab vs a bare flask-sock fan-out server",
        "",
        f"Confab at {code_version()}. Parts run: {', '.join(parts)}; each part starts a fresh Confab, then a fresh "
        f"bare server, in the same run "
        f"(whole run {args.run_s / 60:.1f} min). Load: node + ws (`bench/chatload.js`) on the same machine over "
        f"loopback ({machine()}; load average 1/5/15 min at start {args.load_before}, at the end "
        f"{args.load_after}; open-file limit {args.open_files}). Latencies are send → deliver at each "
        f"other member and send → ack at the sender, from a timestamp in the content (same process clock). "
        f"Server CPU and RSS are the server process's only (/proc/<pid>/stat, status); 'CPU wait' is how long its "
        "threads were ready to run but waited for a core (/proc/<pid>/task/*/schedstat): the other work on this "
        "shared machine in the server's way.",
        "Confab stores every message (SQLite WAL, synchronous=FULL, group commit) before its ack; the bare "
        "server (`bench/bare_server.py`) keeps a dict of rooms, stores nothing and checks no token.",
    ]


LOAD_COLUMNS = ("| load | server | sent/s | deliveries/s | deliver p50 ms | deliver p99 ms | ack p50 ms | ack p99 ms "
                "| server CPU µs/delivery | server CPU s | server CPU wait s | RSS MB | errors | generator CPU % |",
                "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")


def load_rows(name: str, confab: dict[str, Any], bare: dict[str, Any]) -> list[str]:
    lines = []
    for label, r in (("confab", confab), ("bare", bare)):
        lines.append(f"| {name} | {label} | {fmt(r['sent_per_s'], 0)} | {fmt(r['deliveries_per_s'], 0)} | "
                     + " | ".join(fmt(r[k], 2) for k in LATENCY_KEYS)
                     + f" | {fmt(r['us_per_delivery'], 1)} | {fmt(r['server_cpu_s'], 1)} | "
                     f"{fmt(r['server_wait_s'], 1)} | {fmt(r['rss_mb'], 0)} | {r['errors']} | "
                     f"{fmt(r['generator_cpu_percent'], 0)} |")
    r = {k: ratio(confab[k], bare[k]) for k in ("sent_per_s", "deliveries_per_s", *LATENCY_KEYS,
                                                      "us_per_delivery", "rss_mb")}
    lines.append(f"| {name} | ratio confab/bare | {fmt(r['sent_per_s'], 2)} | "
                 f"{fmt(r['deliveries_per_s'], 2)} | " + " | ".join(fmt(r[k], 2) for k in LATENCY_KEYS)
                 + f" | {fmt(r['us_per_delivery'], 2)} | | | {fmt(r['rss_mb'], 2)} | | |")
    return lines


def fanout_section(args: argparse.Namespace, rows: dict[str, tuple[dict, dict]]) -> list[str]:
    lines = ["", f"## Closed loop and paced: {args.conns} sockets in {args.rooms} rooms of {args.conns // args.rooms}",
             "", f"{args.senders} sender(s) per room; closed loop: {args.window} messages in flight per sender; "
             f"paced: {args.paced} deliveries/s in total. {args.seconds:.0f} s measured after 2 s warm-up.", "",
             *LOAD_COLUMNS]
    for name, (confab, bare) in rows.items():
        lines += load_rows(name, confab, bare)
    return lines


def seed003_section(args: argparse.Namespace, confab: dict[str, Any], bare: dict[str, Any]) -> list[str]:
    return ["", f"## Seed 003: {args.seed003_rate:,.0f} messages/s per instance into rooms of 4", "",
            f"{args.seed003_conns} sockets in {args.seed003_conns // 4} rooms of 4, every member sending "
            f"{args.seed003_rate / args.seed003_conns:g} messages/s, paced (each message is delivered to the 4 "
            f"members, the sender included). Seed 003 asks for p99 < 50 ms. {args.seconds:.0f} s measured after "
            f"2 s warm-up.", "", *LOAD_COLUMNS, *load_rows("seed003", confab, bare)]


def storm_section(args: argparse.Namespace, results: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    lines = ["", f"## Connection storm: {args.storm:,} sockets joining {args.storm_rooms} rooms", "",
             f"{args.storm:,} distinct users in {args.storm_rooms} rooms connect and send `join_room`, with "
             f"{args.storm_concurrency} handshakes in flight at most; 'first join': fresh users, each join makes "
             f"a member; 'rejoin': the same users again on the same server once the first sockets are closed "
             f"and the server is idle (members already, as after a restart). Connect + join is until the last "
             f"`join_room` reply. Then {args.idle_s:.0f} s of idleness: the server's CPU (% of one core), the "
             f"frames that still reach the clients, and RSS per socket at the end ((RSS after − RSS before the "
             f"storm) / sockets; for 'rejoin' RSS before is what the first storm left).", "",
             "| server | storm | sockets | connect + join s | server CPU s / CPU wait s meanwhile | connect errors "
             "| frames while connecting | RSS before MB | RSS after MB | KB per socket | idle CPU % "
             "| frames in the idle s |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, storms in results.items():
        for storm, r in storms.items():
            lines.append(f"| {label} | {storm} | {r['connected']:,} | {fmt(r['connect_s'], 1)} | "
                         f"{fmt(r['connect_cpu_s'], 1)} / {fmt(r['connect_wait_s'], 1)} | {r['connect_errors']} | {r['connecting']['frames']:,} | {fmt(r['rss_before_mb'], 0)} | "
                         f"{fmt(r['rss_after_mb'], 0)} | {fmt(r['kb_per_socket'], 1)} | "
                         f"{fmt(r['idle_cpu_percent'], 1)} | {r['idle_frames']:,} |")
    for storm in results["confab"]:
        confab, bare = results["confab"][storm], results["bare"][storm]
        lines.append(f"| ratio confab/bare | {storm} | | {fmt(ratio(confab['connect_s'], bare['connect_s']), 2)} | "
                     f"| | | | | {fmt(ratio(confab['kb_per_socket'], bare['kb_per_socket']), 2)} | | |")
    lines += ["", "Frames by type, while connecting → in the idle seconds:", ""]
    for label, storms in results.items():
        for storm, r in storms.items():
            lines.append(f"- {label}, {storm}: {by_type(r['connecting']['frames_by_type'])} → "
                         f"{by_type(r['idle_frames_by_type'])}")
    return lines


def by_type(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())) or "none"


def stuck_section(args: argparse.Namespace, confab: dict[str, Any], bare: dict[str, Any]) -> list[str]:
    lines = ["", f"## A stuck member: {args.stuck_senders} senders × {args.stuck_rate:g} messages/s of 4 KB into "
             f"one room of {args.stuck_members}", "",
             f"First {args.seconds:.0f} s with every member reading, then {args.stuck_seconds:.0f} s with one "
             f"(non-sending) member's socket paused (node stops reading it; the kernel buffers on both sides fill). "
             f"Deliver figures are the other members'. 'Kept' is how long after the pause the server still holds "
             f"the stuck socket (its end of the connection has a descriptor in /proc/net/tcp); RSS growth is the "
             f"server's largest RSS during the stuck phase minus its RSS at the pause.", "",
             "| server | phase | deliveries/s | deliver p50 ms | deliver p99 ms | ack p99 ms | errors "
             "| server CPU s / CPU wait s | stuck socket kept s | RSS growth MB |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, r in (("confab", confab), ("bare", bare)):
        for phase in ("baseline", "stuck"):
            p = r[phase]
            kept = "" if phase == "baseline" else (
                fmt(r["kept_s"], 1) if r["kept_s"] is not None else f"still open after {args.stuck_seconds - 1:.0f}")
            growth = "" if phase == "baseline" else fmt(r["rss_max_mb"] - r["rss_at_pause_mb"], 1)
            lines.append(f"| {label} | {p['name']} | {fmt(p['deliveries_per_s'], 0)} | {fmt(p['deliver_p50_ms'], 2)} | "
                         f"{fmt(p['deliver_p99_ms'], 2)} | {fmt(p['ack_p99_ms'], 2)} | {p['errors']} | "
                         f"{fmt(p['server_cpu_s'], 1)} / {fmt(p['server_wait_s'], 1)} | {kept} | "
                         f"{growth} |")
        lines.append(f"| {label} | p99 ratio stuck/all reading | | | "
                     f"{fmt(ratio(r['stuck']['deliver_p99_ms'], r['baseline']['deliver_p99_ms']), 2)} | | | | | |")
    return lines


def log_section(log_notes: dict[str, list[str]]) -> list[str]:
    lines = ["", "Confab's server log (ERROR, CRITICAL and tracebacks) per part: " + "; ".join(
        f"{name}: {len(errors)} line(s)" for name, errors in log_notes.items()) + "."]
    for name, errors in log_notes.items():
        lines += [f"- {name}: `{line[:200]}`" for line in errors[:3]]
    return lines


def write_report(args: argparse.Namespace, results: dict[str, Any], log_notes: dict[str, list[str]]) -> None:
    lines = header(args, [part for part in ("fanout", "seed003", "storm", "stuck") if part in results])
    if "fanout" in results:
        lines += fanout_section(args, results["fanout"])
    if "seed003" in results:
        lines += seed003_section(args, *results["seed003"])
    if "storm" in results:
        lines += storm_section(args, results["storm"])
    if "stuck" in results:
        lines += stuck_section(args, *results["stuck"])
    lines += log_section(log_notes)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        write_keeping_findings(Path(args.out), text)
