"""The supervisor: starts components in bootstrap order, aggregates their health, restarts crashed ones.

Children are reached through ``ChildHandle``s, so a restart swaps the actor behind a handle and
every holder keeps working. Health is pushed by children (``HealthReport``), never polled with an
``ask``, so the supervisor never waits on a child.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import pykka

from actors import runtime
from actors.component import ChildFailed, Health, HealthReport, tell_if_alive
from domain import logs

log = logging.getLogger("confab.supervisor")

PROTOCOL_VERSION = 2  # docs/protocol.md, section 10: what changed


class ChildHandle:
    """A stable reference to a supervised actor; follows it across restarts."""

    def __init__(self, name: str, ref: pykka.ActorRef) -> None:
        self.name = name
        self.ref = ref

    def tell(self, message: Any) -> None:
        self.ref.tell(message)

    def ask(self, message: Any, timeout: float | None = 10.0) -> Any:
        return self.ref.ask(message, timeout=timeout)

    def is_alive(self) -> bool:
        return self.ref.is_alive()


@dataclass
class ChildSpec:
    """``start(health_sink)`` returns a started actor ref; it is called again to restart the child."""
    name: str
    component: str
    start: Callable[[Callable[[Any], None]], pykka.ActorRef]
    restarts: deque = field(default_factory=lambda: deque(maxlen=16))


@dataclass(frozen=True)
class StartChild:
    spec: ChildSpec


@dataclass(frozen=True)
class _Watch:
    pass


@dataclass(frozen=True)
class GetHealth:
    pass


@dataclass(frozen=True)
class StopChildren:
    component: str | None = None  # None: every child, newest first


class Supervisor(pykka.ThreadingActor):
    def __init__(self, watch_interval_s: float = 0.5, max_restarts: int = 5, restart_window_s: float = 60.0) -> None:
        super().__init__()
        self._specs: dict[str, ChildSpec] = {}
        self._handles: dict[str, ChildHandle] = {}
        self._health: dict[str, Health] = {}
        self._gave_up: set[str] = set()
        self._watch_interval_s = watch_interval_s
        self._max_restarts = max_restarts
        self._restart_window_s = restart_window_s
        self._stopping = False
        self._timer: runtime.Timer | None = None

    def on_start(self) -> None:
        self._schedule_watch()

    def on_stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _schedule_watch(self) -> None:
        self._timer = runtime.call_later(self._watch_interval_s, self.actor_ref.tell, _Watch())

    def _sink(self, message: Any) -> None:
        tell_if_alive(self.actor_ref, message)  # gone at shutdown: nobody is left to hear about health

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, HealthReport):
            if message.child in self._specs:
                self._health[message.child] = message.health
        elif isinstance(message, ChildFailed):
            self._restart_if_dead(message.child, message.error)
        elif isinstance(message, _Watch):
            for name in list(self._handles):
                self._restart_if_dead(name, "actor is not alive")
            if not self._stopping:
                self._schedule_watch()
        elif isinstance(message, StartChild):
            return self._start(message.spec)
        elif isinstance(message, GetHealth):
            return self._aggregate()
        elif isinstance(message, StopChildren):
            return self._stop_children(message.component)
        return None

    def _start(self, spec: ChildSpec) -> ChildHandle:
        self._specs[spec.name] = spec
        self._health[spec.name] = Health("starting", False)
        ref = spec.start(self._sink)
        handle = self._handles.get(spec.name)
        if handle is None:
            handle = self._handles[spec.name] = ChildHandle(spec.name, ref)
        else:
            handle.ref = ref
        logs.event(log, "child.started", child=spec.name, component=spec.component)
        return handle

    def _restart_if_dead(self, name: str, reason: str) -> None:
        handle, spec = self._handles.get(name), self._specs.get(name)
        if self._stopping or handle is None or spec is None or handle.is_alive() or name in self._gave_up:
            return
        now = time.monotonic()
        while spec.restarts and now - spec.restarts[0] > self._restart_window_s:
            spec.restarts.popleft()
        if len(spec.restarts) >= self._max_restarts:
            self._gave_up.add(name)
            self._health[name] = Health("down", False, {"error": reason, "restarts": len(spec.restarts)})
            logs.event(log, "child.gave_up", logging.ERROR, child=name, reason=reason)
            return
        spec.restarts.append(now)
        logs.event(log, "child.restarting", logging.WARNING, child=name, reason=reason, attempt=len(spec.restarts))
        try:
            self._start(spec)
        except Exception as exc:  # the next watch tick tries again
            self._health[name] = Health("down", False, {"error": repr(exc)})
            logs.event(log, "child.restart_failed", logging.ERROR, child=name, error=repr(exc))

    def _aggregate(self) -> dict[str, Any]:
        components: dict[str, dict[str, Any]] = {}
        for name, spec in self._specs.items():
            health = self._health.get(name, Health("starting", False))
            entry = components.setdefault(spec.component, {"status": "ok", "ready": True, "children": {}})
            entry["children"][name] = {"status": health.status, **health.detail}
            entry["ready"] = entry["ready"] and health.ready and health.status == "ok"
            entry["status"] = _worst(entry["status"], health.status)
        for entry in components.values():
            if len(entry["children"]) == 1:  # a single child: flatten its detail into the component
                (child,) = entry["children"].values()
                entry.pop("children")
                entry.update({k: v for k, v in child.items() if k != "status"})
        status = "ok"
        for entry in components.values():
            status = _worst(status, entry["status"])
        if self._stopping:
            status = "stopping"
        ready = not self._stopping and all(entry["ready"] for entry in components.values())
        return {"status": "ok" if status == "ok" else "degraded" if status != "stopping" else status,
                "protocol": PROTOCOL_VERSION, "ready": ready, "components": components}

    def _stop_children(self, component: str | None) -> None:
        self._stopping = True
        for name in reversed(list(self._specs)):
            if component is not None and self._specs[name].component != component:
                continue
            handle = self._handles.get(name)
            if handle is not None and handle.is_alive():
                try:
                    handle.ref.stop(block=True, timeout=10)
                except pykka.Timeout:
                    logs.event(log, "child.stop_timeout", logging.ERROR, child=name)
            logs.event(log, "child.stopped", child=name)


def start_child(supervisor: pykka.ActorRef, spec: ChildSpec) -> ChildHandle:
    """Start ``spec`` under ``supervisor`` and return its stable handle (call from outside the supervisor)."""
    return supervisor.ask(StartChild(spec))


def stop_supervision(supervisor: pykka.ActorRef, timeout: float = 10.0) -> None:
    """Stop every child, newest first, then the supervisor itself."""
    supervisor.ask(StopChildren(), timeout=timeout)
    supervisor.stop()


def health(supervisor: pykka.ActorRef, timeout: float = 5.0) -> dict[str, Any]:
    return supervisor.ask(GetHealth(), timeout=timeout)


_RANK = {"ok": 0, "starting": 1, "degraded": 2, "down": 3}


def _worst(a: str, b: str) -> str:
    return a if _RANK.get(a, 3) >= _RANK.get(b, 3) else b
