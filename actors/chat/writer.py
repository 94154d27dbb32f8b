"""The chat writer actor: drains the command queue in group commits, one transaction per batch.

A ``_Flush`` is told when commands arrive; the actor then commits batches of up to
``group_commit_max`` until the queue is empty, so everything that arrived while the previous batch
was committing goes into the next one: one fsync for many messages. ``commit`` is
``actors.storage.HubStatements``: on SQLite the batch's statements run here, on the writer's own
connection, and its COMMIT (the fsync) on a dedicated OS thread, so the hub serves sockets meanwhile.
The queue belongs to the service, so a restarted writer picks up where the crashed one stopped.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

import peewee

from actors import runtime
from actors.chat.batch import Outcome
from actors.chat.service import ChatService
from actors.component import ComponentActor, HealthSink, tell_if_alive
from domain import logs
from domain.errors import Internal, Unavailable
from storage.unavailable import STORAGE_DOWN, storage_unavailable

log = logging.getLogger("confab.chat")

Commit = Callable[[list[dict[str, Any]]], list[Outcome]]


class _Flush:
    pass


class _Probe:
    pass


_FLUSH = _Flush()
#: while storage fails, a write that changes nothing is tried every PROBE_EVERY_S through the same
#: path (thread, connection), so health (and /ready) recovers without waiting for the next message
PROBE = {"op": "probe", "cid": "probe"}
PROBE_EVERY_S = 1.0


class ChatWriter(ComponentActor):
    def __init__(self, health_sink: HealthSink, service: ChatService, batch_max: int, commit: Commit) -> None:
        super().__init__("chat", health_sink)
        self._service = service
        self._batch_max = batch_max
        self._commit_batch = commit
        self._kicked = False
        self._failing = False
        self._probe: runtime.Timer | None = None

    def on_start(self) -> None:
        self._service.kick = self._kick
        self.report_health("ok", True, queued=len(self._service.queue))
        self._kick()

    def _kick(self) -> None:
        if not self._kicked:
            self._kicked = True
            tell_if_alive(self.actor_ref, _FLUSH)  # being restarted: the new writer drains the queue on start

    def on_stop(self) -> None:
        if self._probe is not None:
            self._probe.cancel()

    def handle(self, message: Any) -> Any:
        if isinstance(message, _Flush):
            self._kicked = False
            queue = self._service.queue
            while queue:
                batch = [queue.popleft() for _ in range(min(self._batch_max, len(queue)))]
                self._commit(batch)
        elif isinstance(message, _Probe):
            self._probe = None
            if self._failing:
                try:
                    self._commit_batch([PROBE])
                except STORAGE_DOWN:
                    self._probe = runtime.call_later(PROBE_EVERY_S, self.actor_ref.tell, _Probe())
                else:
                    self._health(True)
        return None

    def _commit(self, batch: list[dict[str, Any]]) -> None:
        started = time.perf_counter()
        try:
            outcomes = self._commit_batch(batch)
        except (peewee.PeeweeException, OSError) as exc:
            storage_unavailable(exc, log, commands=len(batch), request_ids=[c.get("rid") for c in batch][:20])
            self._health(False, str(exc).splitlines()[0])
            outcomes = [Outcome(error=Unavailable("storage unavailable; retry with the same client_msg_id"))
                        for _ in batch]
        except Exception as exc:  # noqa: BLE001 — a bug answers INTERNAL; the writer and the queue go on
            logs.event(log, "chat.batch_crashed", logging.ERROR, exc_info=exc, commands=len(batch),
                       request_ids=[c.get("rid") for c in batch][:20])
            outcomes = [Outcome(error=Internal("internal error")) for _ in batch]
        else:
            self._health(True)
            self._service.metrics.timing("chat.commit_time", (time.perf_counter() - started) * 1000)
            self._service.metrics.timing("chat.commit_batch_size", len(batch))
        for command, outcome in zip(batch, outcomes):
            self._service.settle(command, outcome)

    def _health(self, ok: bool, error: str = "") -> None:
        if ok == self._failing:
            self._failing = not ok
            self.report_health("ok" if ok else "degraded", True, **({} if ok else {"error": error}))
            if not ok and self._probe is None:
                self._probe = runtime.call_later(PROBE_EVERY_S, self.actor_ref.tell, _Probe())
