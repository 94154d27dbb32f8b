"""Graceful shutdown, in the order of docs/architecture.md: the shared partitions handed over to the other
instances, sockets closed with 1012 (service restart: reconnect and resume), queues drained, final
snapshots written (by each component's ``on_stop``), actors stopped newest first, logs flushed."""
from __future__ import annotations

import logging
import time
from typing import Callable, Sequence

import pykka

from actors import runtime
from actors.gateway import CloseSessions, SessionCounts
from domain.ws_protocol import CLOSE_SERVICE_RESTART
from actors.supervisor import ChildHandle, stop_supervision
from domain import logs

log = logging.getLogger("confab.lifecycle")


def shutdown(supervisor: pykka.ActorRef, gateway: ChildHandle, grace_s: float,
             hand_over: Sequence[Callable[[], None]] = (), drain: Sequence[Callable[[], None]] = (),
             release: Sequence[Callable[[], None]] = ()) -> None:
    """``hand_over`` runs first, while the sockets are still served (the broker gives its shared
    partitions to the other instances, whose writers answer the callers here meanwhile); ``drain`` runs
    after the sockets are closed and before actors stop (the broker delivers what is queued);
    ``release`` runs after every actor has stopped (the database pool)."""
    started = time.monotonic()
    for callback in hand_over:
        callback()
    logs.event(log, "shutdown.handed_over", ms=round((time.monotonic() - started) * 1000))
    deadline = time.monotonic() + grace_s * 0.6
    closed = gateway.ask(CloseSessions(CLOSE_SERVICE_RESTART, "server restarting", stop_accepting=True))
    logs.event(log, "shutdown.closing_sockets", sockets=closed)
    while time.monotonic() < deadline and gateway.ask(SessionCounts())["sessions"] > 0:
        runtime.sleep(0.05)
    for callback in drain:
        callback()
    stop_supervision(supervisor, timeout=max(1.0, grace_s * 0.4))
    for callback in release:
        callback()
    logs.event(log, "shutdown.complete")
    logs.flush()
