"""The base of every supervised actor: health reports to the supervisor, failures never escape.

Pykka stops *every* actor when a BaseException (pyo3's PanicException, say) leaves a handler; the
base turns those into ordinary exceptions so one bad message can only fail its own actor.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import pykka

from actors import runtime
from domain import logs

log = logging.getLogger("confab.actors")


@dataclass(frozen=True)
class Health:
    status: str = "ok"  # ok | starting | degraded | down
    ready: bool = True
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HealthReport:
    child: str
    health: Health


@dataclass(frozen=True)
class ChildFailed:
    child: str
    error: str


class ContainedPanic(Exception):
    """A BaseException raised inside a handler, contained so it cannot stop the whole actor system."""


HealthSink = Callable[[HealthReport | ChildFailed], None]


class ComponentActor(pykka.ThreadingActor):
    """Subclasses implement ``handle(message)``; ``report_health`` tells the supervisor how they are."""

    def __init__(self, name: str, health_sink: HealthSink | None = None) -> None:
        super().__init__()
        self.name = name
        self._health_sink = health_sink

    def report_health(self, status: str = "ok", ready: bool = True, **detail: Any) -> None:
        if self._health_sink is not None:
            self._health_sink(HealthReport(self.name, Health(status, ready, detail)))

    def on_receive(self, message: Any) -> Any:
        return self._contained(self.handle, message)

    @staticmethod
    def _contained(fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception:
            raise
        except BaseException as exc:  # noqa: BLE001 — see the module docstring
            if isinstance(exc, (SystemExit, KeyboardInterrupt)):
                raise
            raise ContainedPanic(f"{type(exc).__name__}: {exc}").with_traceback(sys.exc_info()[2]) from None

    def handle(self, message: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not handle {type(message).__name__}")

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        logs.event(log, "actor.failed", logging.ERROR, actor=self.name, error=repr(exception_value))
        if self._health_sink is not None:
            self._health_sink(ChildFailed(self.name, repr(exception_value)))


class _Tick:
    """A periodic actor's own timer, due."""


class PeriodicActor(ComponentActor):
    """A component that runs ``tick()`` when it starts and then every ``interval_s`` seconds until it
    stops. Subclasses that override ``on_start`` or ``on_stop`` call ``super()`` (``on_start`` last:
    the first tick runs there)."""

    def __init__(self, name: str, health_sink: HealthSink | None, interval_s: float) -> None:
        super().__init__(name, health_sink)
        self.interval_s = interval_s
        self._timer: runtime.Timer | None = None

    def on_start(self) -> None:
        self._tick()

    def on_stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, _Tick):
            return self._tick()
        return super().on_receive(message)

    def tick(self) -> None:
        raise NotImplementedError

    def _tick(self) -> None:
        self._contained(self.tick)
        self._timer = runtime.call_later(self.interval_s, self.actor_ref.tell, _Tick())


def tell_if_alive(target: Any, message: Any) -> bool:
    """Tell an actor (a ref or a child handle) that may be stopping or being restarted; False when it
    is gone. Nothing is lost by it: a restarted actor recovers what it owns from storage, and a stopped
    one had nobody left to serve."""
    try:
        target.tell(message)
    except pykka.ActorDeadError:
        return False
    return True

