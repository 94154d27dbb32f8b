"""Where Confab's time goes under a bench load: py-spy on the server during the measured phase, summed by area.

The benches record a profile when given ``--profile DIR`` (``bench/chat.py`` for each Confab load,
``bench/collab.py`` for Confab's run of each load): ``DIR/<load>.raw``, py-spy's collapsed stacks. This
module puts such files side by side:

    .venv/bin/python bench/profiling.py before.raw after.raw [--top 3]

py-spy samples here without stopping the process (``--nonblocking``, 100 Hz): with ``--native`` it
stops the server at every sample, and a closed loop measured under it fell from 2,760 to 419 messages/s
(the shape of such a profile is that of a different load). Without native frames a thread blocked in
the kernel looks busy in the Python line that made the call, so two kinds of samples are set apart:
threads waiting for work (the event loop's ``loop.run()``, idle worker threads) are left out, and the
commit thread's (mostly ``fsync``) are shown apart from the busy total. The busy total is the event
loop's thread, the one everything in Confab but the commit shares.

Each other sample is put in the first area (in the order of ``AREAS``) that one of its frames names,
so a stack that passes through the chat writer counts as the writer's whatever it calls. The areas
name both the current code and the code before the delivery-path rewrite (``BENCH_CONFAB_ROOT`` runs
the benches on another checkout), so that both read in the same terms (bench/results/profiles.md).
"""
from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Iterator

#: the commit thread (SQLite's COMMIT and fsync, off the event loop): shown apart from the busy total
COMMIT_THREAD = ("_CommitElsewhere.commit.<locals>", "GroupCommits._on_thread", "BatchThread._drain")
#: (area, frame patterns): the first area with a pattern found in a sample's frames takes the sample
AREAS: list[tuple[str, tuple[str, ...]]] = [
    ("chat writer: the batch's SQL", ("apply_batch", "ChatWriter.")),
    ("documents: Yjs updates, pycrdt, storage", ("actors/documents/", "DocumentActor")),
    ("fan-out: a room's event to its sockets", ("RoomHub.", "ChatService._on_event", "_Subscription.deliver")),
    ("presence", ("presence.py",)),
    ("writes: frames onto sockets", ("Outbox.", "_Flusher.", "_write (actors/session.py", "_WholeFrameSocket.send",
                                     "SessionActor._send_later", "Server.send (simple_websocket")),
    ("reads: WebSocket frames off sockets", ("Connection.receive", "Connection._read", "Server._thread",
                                             "simple_websocket/ws.py")),
    ("frame validation: JSON and schemas", ("parse_frame",)),
    ("frame handlers and commands", ("Session.handle", "SessionActor.", "ChatFrames.", "ChatService.submit")),
    ("broker: partitions and their log", ("actors/broker/",)),
    ("HTTP: handshakes and REST", ("WSGIHandler.handle", "pywsgi.py")),
    ("actor mailboxes (Pykka)", ("pykka/",)),
    ("event loop, greenlet switches", ("gevent/", "greenlet")),
]
#: a sample ending in one of these is a thread waiting for work
IDLE_LEAVES = ("Hub.run (gevent/hub.py", "Queue.get (gevent/_threading.py", "_Condition.wait (gevent/_threading.py",
               "acquire_with_timeout (gevent/_threading.py")
OTHER, COMMIT = "other", "commit thread: COMMIT and fsync (wall time, not in the busy total)"


def samples(path: Path) -> Iterator[tuple[list[str], int]]:
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            yield stack.split(";"), int(count)


def area_of(frames: list[str]) -> str:
    joined = ";".join(frames)
    for area, patterns in AREAS:
        if any(pattern in joined for pattern in patterns):
            return area
    return OTHER


def summarize(path: Path) -> tuple[int, Counter[str], dict[str, Counter[str]]]:
    """Busy samples, samples per area, and per area the lines its samples end in."""
    by_area: Counter[str] = Counter()
    leaves: dict[str, Counter[str]] = {}
    busy = 0
    for frames, count in samples(path):
        if frames[-1].startswith(IDLE_LEAVES):
            continue
        joined = ";".join(frames)
        if any(pattern in joined for pattern in COMMIT_THREAD):
            area = COMMIT
        else:
            area = area_of(frames)
            busy += count
        by_area[area] += count
        leaves.setdefault(area, Counter())[_short(frames[-1])] += count
    return busy, by_area, leaves


def _short(frame: str) -> str:
    return re.sub(r" \((?:/[^()]*/)?([^/()]+/[^/()]+|[^/()]+)\)$", r" (\1)", frame)


def report(paths: list[Path], top: int) -> str:
    summaries = [summarize(path) for path in paths]
    order = [area for area, _ in AREAS] + [OTHER, COMMIT]
    lines = ["| area | " + " | ".join(path.stem for path in paths) + " |",
             "|---|" + "---:|" * len(paths)]
    for area in order:
        if any(by_area[area] for _busy, by_area, _ in summaries):
            shares = [f"{100 * by_area[area] / max(1, busy):.1f} %" for busy, by_area, _ in summaries]
            lines.append(f"| {area} | " + " | ".join(shares) + " |")
    lines.append("| busy samples | " + " | ".join(f"{busy:,}" for busy, _, _ in summaries) + " |")
    for path, (_busy, by_area, leaves) in zip(paths, summaries):
        lines += ["", f"Where each area's samples end, `{path.stem}` (top {top}):", ""]
        for area in order:
            if by_area[area]:
                ends = ", ".join(f"{name} {100 * n / by_area[area]:.0f} %" for name, n in leaves[area].most_common(top))
                lines.append(f"- {area}: {ends}")
    return "\n".join(lines)


class Recording:
    """py-spy on ``pid`` from now until ``stop``, into ``out``: the measured phase of one load."""

    def __init__(self, pid: int, out: Path) -> None:
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        out.parent.mkdir(parents=True, exist_ok=True)
        self.out = out
        self._spy = subprocess.Popen([spy, "record", "--nonblocking", "--pid", str(pid), "--rate", "100",
                                      "--format", "raw", "--output", str(out), "--duration", "600"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> Path:
        self._spy.send_signal(signal.SIGINT)  # py-spy writes what it has on SIGINT
        self._spy.wait(60)
        return self.out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profiles", nargs="+", type=Path, help="py-spy raw files, one column each")
    parser.add_argument("--top", type=int, default=3, help="functions listed per area")
    args = parser.parse_args()
    print(report(args.profiles, args.top))


if __name__ == "__main__":
    main()
