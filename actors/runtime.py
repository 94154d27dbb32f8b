"""The concurrency runtime behind three hooks: spawn, call_later and run_blocking.

Everything else in Confab schedules work through these, so moving off gevent touches this file only.
Pykka's ThreadingActor becomes a greenlet because ``gevent.monkey.patch_all()`` runs first in app.py.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol

import gevent
import gevent.hub


class Timer(Protocol):
    def cancel(self) -> None: ...


class _GreenletTimer:
    __slots__ = ("_greenlet",)

    def __init__(self, greenlet: gevent.Greenlet) -> None:
        self._greenlet = greenlet

    def cancel(self) -> None:
        self._greenlet.kill(block=False)


def spawn(fn: Callable[..., Any], *args: Any) -> gevent.Greenlet:
    """Run ``fn`` concurrently (a greenlet)."""
    return gevent.spawn(fn, *args)


def call_later(delay_s: float, fn: Callable[..., Any], *args: Any) -> Timer:
    """Run ``fn`` once after ``delay_s`` seconds unless cancelled."""
    return _GreenletTimer(gevent.spawn_later(max(0.0, delay_s), fn, *args))


def run_blocking(fn: Callable[..., Any], *args: Any) -> Any:
    """Run CPU-heavy or GIL-releasing work (password hashing, file hashing) on an OS thread."""
    return gevent.get_hub().threadpool.apply(fn, args)


def sleep(seconds: float) -> None:
    gevent.sleep(seconds)


def within(seconds: float, fn: Callable[..., Any], *args: Any) -> bool:
    """Run ``fn``; False if it did not finish within ``seconds`` (it is interrupted)."""
    with gevent.Timeout(seconds, False):
        fn(*args)
        return True
    return False


def tune_process() -> None:
    """After start-up: freeze start-up objects out of the GC and raise the open-files limit.

    Measured on this stack: full collections over start-up objects added 20+ ms pauses at high
    message rates; each WebSocket costs two file descriptors (simple-websocket dups the socket).
    """
    import gc
    import resource

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 1 << 20, hard))
        except (ValueError, OSError):
            pass
