"""What a send costs by each way in, and how fast the SDK catches up: one ``python app.py`` (SQLite), one
client at a time, sequential sends (each waits for its answer, so this is latency, not capacity).

- REST ``POST /rooms/{id}/messages`` (SDK ``Client.send_message``), /ws ``send_message`` until its ack
  (SDK ``ChatSession.send_message``), and an incoming webhook post;
- catch-up: a session kept away (``tests/support/tcp_gate.py``) while ``--missed`` messages are sent, then let
  back: the time until it has handed out every one of them, in order.

    .venv/bin/python bench/sends.py [--sends N] [--missed N]

It prints a markdown table and writes it to bench/results/sends.md. Run on demand (not a test).
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import requests  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from confab_client import Client  # noqa: E402
from tests.support.harness import ServerProcess  # noqa: E402
from tests.support.tcp_gate import TcpGate  # noqa: E402

ENV = {"CONFAB_CHAT_SEND_RATE": "1000000", "CONFAB_RATE_LIMIT_ENABLED": "false", "CONFAB_LOGGING_LEVEL": "WARNING"}


def person(base: str) -> Client:
    client = Client(base)
    name = "u" + uuid.uuid4().hex[:10]
    client.register(name, f"{name}@example.com", "bench password")
    client.login(name, "bench password")
    return client


def timed(count: int, send: Callable[[int], object]) -> dict[str, float]:
    latencies = []
    started = time.perf_counter()
    for i in range(count):
        before = time.perf_counter()
        send(i)
        latencies.append((time.perf_counter() - before) * 1000)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"p50": statistics.median(latencies), "p99": latencies[int(len(latencies) * 0.99) - 1],
            "rate": count / elapsed}


def catch_up(server: ServerProcess, missed: int) -> float:
    """Seconds from letting a session back in to its having handed out ``missed`` messages."""
    sender, reader = person(server.base), person(server.base)
    room = sender.create_room("catch-up")["id"]
    reader.join_room(room)
    gate = TcpGate(server.port)
    try:
        away = Client(gate.base, access_token=reader.access_token, refresh_token=reader.refresh_token)
        with away.chat(backoff_s=0.05, backoff_max_s=0.05) as session:
            session.join(room, since_seq=0)
            gate.cut()
            for i in range(missed):
                sender.send_message(room, f"missed {i}")
            started, seqs = time.perf_counter(), []
            gate.reopen()
            for event in session.events(timeout_s=60):
                if event.message is not None:
                    seqs.append(event.message["seq"])
                    if len(seqs) == missed:
                        break
            assert seqs == list(range(1, missed + 1)), "a gap or a duplicate"
            return time.perf_counter() - started
    finally:
        gate.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=300)
    parser.add_argument("--missed", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        server = ServerProcess(Path(folder), env=ENV)
        try:
            server.wait_ready()
            ana = person(server.base)
            room = ana.create_room("bench")["id"]
            hook = ana.create_incoming_webhook(room, "bench")["url"]
            http = requests.Session()
            with ana.chat() as session:
                rows = {
                    "REST POST /rooms/{id}/messages": timed(args.sends, lambda i: ana.send_message(room, f"r{i}")),
                    "/ws send_message → ack": timed(args.sends, lambda i: session.send_message(room, f"w{i}")),
                    "incoming webhook POST": timed(args.sends, lambda i: http.post(hook, json={"text": f"h{i}"})),
                }
            seconds = catch_up(server, args.missed)
        finally:
            server.stop()
    lines = [f"# Sends by each way in, and the SDK's catch-up ({platform.machine()}, {args.sends} sequential "
             "sends each, SQLite)", "", "| way in | p50 ms | p99 ms | sends/s (one client) |", "|---|---|---|---|"]
    lines += [f"| {name} | {r['p50']:.1f} | {r['p99']:.1f} | {r['rate']:.0f} |" for name, r in rows.items()]
    lines += ["", f"Catch-up: a session away while {args.missed} messages were sent had handed all of them out, "
              f"in order, {seconds:.2f} s after it could reconnect.", "",
              "Command: `.venv/bin/python bench/sends.py`"]
    report = "\n".join(lines) + "\n"
    print(report)
    (ROOT / "bench" / "results" / "sends.md").write_text(report)


if __name__ == "__main__":
    main()
