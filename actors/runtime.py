"""The concurrency runtime behind a few hooks: spawn, soon, call_later (and call_later_in_hub),
run_blocking and BatchThread.

Everything else in Confab schedules work through these, so moving off gevent touches this file only.
Pykka's ThreadingActor becomes a greenlet because ``gevent.monkey.patch_all()`` runs first in app.py.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol

import gevent
import gevent.event
import gevent.hub
import gevent.threadpool

#: gevent records, for every greenlet it spawns, the stack and the greenlet that spawned it (a debugging
#: aid): 29 objects and ~3 KB per pending timer, measured, and there is a timer and a greenlet per socket
gevent.config.track_greenlet_tree = False


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


def current() -> Any:
    """The running greenlet (an identity: what runs this code now)."""
    return gevent.getcurrent()


def soon(fn: Callable[[], None]) -> None:
    """Run ``fn`` once the running greenlet yields, before the loop polls for I/O again (in the hub:
    ``fn`` must not block, and must not raise)."""
    gevent.get_hub().loop.run_callback(fn)


def call_later(delay_s: float, fn: Callable[..., Any], *args: Any) -> Timer:
    """Run ``fn`` once after ``delay_s`` seconds unless cancelled."""
    return _GreenletTimer(gevent.spawn_later(max(0.0, delay_s), fn, *args))


class _LoopTimer:
    __slots__ = ("_watcher",)

    def __init__(self, watcher: Any) -> None:
        self._watcher = watcher

    def cancel(self) -> None:
        self._watcher.close()


def call_later_in_hub(delay_s: float, fn: Callable[..., Any], *args: Any) -> Timer:
    """Like ``call_later``, for a ``fn`` that never blocks (it runs in the hub itself): no greenlet, so
    ~0.2 KB instead of ~1 KB per pending call (one per socket, for its token's expiry)."""
    watcher = gevent.get_hub().loop.timer(max(0.0, delay_s))
    watcher.start(_once, watcher, fn, *args)
    return _LoopTimer(watcher)


def _once(watcher: Any, fn: Callable[..., Any], *args: Any) -> None:
    watcher.close()
    fn(*args)


def run_blocking(fn: Callable[..., Any], *args: Any) -> Any:
    """Run CPU-heavy or GIL-releasing work (password hashing, file hashing) on an OS thread."""
    return gevent.get_hub().threadpool.apply(fn, args)


class BatchThread:
    """``process(items) -> results`` on one dedicated OS thread, fed in batches (group commit).

    For blocking calls that release the GIL but must not stall the hub (an SQLite commit with fsync).
    Items submitted while a batch runs form the next one; ``submit`` waits cooperatively for its own
    result, and raises it if ``process`` returned an exception for it (or raised for the whole batch).
    Only the hub touches the queue and the results; the thread only runs ``process``.
    """

    def __init__(self, process: Callable[[list[Any]], list[Any]], max_batch: int,
                 on_close: Callable[[], None] | None = None) -> None:
        self._process = process
        self._max_batch = max_batch
        self._on_close = on_close
        self._pool = gevent.threadpool.ThreadPool(1)
        self._queue: list[tuple[Any, gevent.event.AsyncResult]] = []
        self._runner: gevent.Greenlet | None = None
        self._closed = False

    def submit(self, item: Any) -> Any:
        if self._closed:
            raise RuntimeError("batch thread closed")
        result = gevent.event.AsyncResult()
        self._queue.append((item, result))
        if self._runner is None:
            self._runner = gevent.spawn(self._drain)
        return result.get()

    def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[:self._max_batch], self._queue[self._max_batch:]
                try:
                    outcomes = self._pool.apply(self._process, ([item for item, _ in batch],))
                except Exception as exc:  # noqa: BLE001 — every waiter of the batch gets the failure
                    outcomes = [exc] * len(batch)
                for (_, result), outcome in zip(batch, outcomes):
                    if isinstance(outcome, BaseException):
                        result.set_exception(outcome)
                    else:
                        result.set(outcome)
        finally:
            self._runner = None

    def close(self) -> None:
        """Finish the queued batches, run ``on_close`` on the thread, and end the thread."""
        self._closed = True
        if self._runner is not None:
            self._runner.join()
        if self._on_close is not None:
            self._pool.apply(self._on_close)
        self._pool.kill()


def event() -> gevent.event.Event:
    """A flag greenlets can wait on (``set``, ``wait(timeout)``, ``is_set``)."""
    return gevent.event.Event()


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
