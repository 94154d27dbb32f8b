"""The partition actor: delivers to the consumer groups, syncs the log, reports health and metrics.

Each group gets one delivery greenlet per partition, spawned by the actor and killed with it. It hands
records to the group's handler one at a time in offset order and commits each (moves the group's
cursor) when the handler returns; a handler that raises is logged with its offset and retried with
exponential backoff, never skipped, so a failing group holds the partition until it succeeds or the
partition fills up and publishes fail with UNAVAILABLE. A bug in the delivery loop itself fails the
actor, and the supervisor restarts it; deliveries resume at the groups' cursors.
"""
from __future__ import annotations

import logging
from typing import Any, NamedTuple

from greenlet import GreenletExit

from actors import runtime
from actors.broker.lag import report_lags
from actors.broker.partition import LogFailed, Partition, Sync
from actors.component import ComponentActor, HealthSink, tell_if_alive
from domain import logs
from domain.broker import Handler, Record
from domain.metrics import Metrics, segment

log = logging.getLogger("confab.broker")

TICK_S = 1.0  # metrics, health, offset saves and retention
READ_BATCH = 512
RETRY_FIRST_S, RETRY_MAX_S = 0.05, 5.0
_FATAL = (GreenletExit, SystemExit, KeyboardInterrupt)


class StartDelivery(NamedTuple):
    group: str


class _Tick:
    pass


class _DeliveryFailed(NamedTuple):
    group: str
    error: str


class PartitionFailed(Exception):
    """Raised inside the actor so the supervisor restarts it."""


_TICK = _Tick()


class PartitionActor(ComponentActor):
    def __init__(self, partition: Partition, metrics: Metrics, health_sink: HealthSink | None = None) -> None:
        super().__init__(partition.name, health_sink)
        self.partition = partition
        self.metrics = metrics
        self._deliveries: dict[str, Any] = {}
        self._timer: runtime.Timer | None = None
        self._health: dict[str, Any] | None = None

    def on_start(self) -> None:
        self.partition.tenancy.acquire()  # the predecessor, if any, has finished closing
        try:
            self.partition.recover()
        except Exception as exc:
            self.partition.tenancy.release()
            logs.event(log, "broker.recovery_failed", logging.ERROR, exc_info=exc, topic=self.partition.topic,
                       partition=self.partition.index)
            self.partition.failure = repr(exc)
            self.report_health("down", False, error=repr(exc))
            raise
        for name in self.partition.groups:
            self._start_delivery(name)
        self._schedule_tick()
        self._report()

    def handle(self, message: Any) -> Any:
        if isinstance(message, Sync):
            self._sync()
        elif isinstance(message, StartDelivery):
            self._start_delivery(message.group)
        elif isinstance(message, _Tick):
            self._tick()
        elif isinstance(message, (LogFailed, _DeliveryFailed)):
            raise PartitionFailed(f"{self.partition.name}: {message.error}")
        else:
            return super().handle(message)
        return None

    def on_stop(self) -> None:
        try:
            self._halt()
            self.partition.shutdown()
            self._flush_counts()
            self.report_health("down", False, reason="stopped")
        finally:
            self.partition.tenancy.release()

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        try:
            self._halt()
            self.partition.suspend(repr(exception_value))
        finally:
            self.partition.tenancy.release()
        super().on_failure(exception_type, exception_value, traceback)

    def _halt(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for greenlet in self._deliveries.values():
            greenlet.kill(block=True, timeout=1.0)
        self._deliveries.clear()

    # --- fsync ----------------------------------------------------------------------------------------

    def _sync(self) -> None:
        """Group commit: one fsync covers every record appended before it started, on an OS thread so
        publishers keep appending the next batch meanwhile."""
        partition = self.partition
        while (started := partition.begin_sync()) is not None:
            runtime.run_blocking(partition.log.sync)  # type: ignore[union-attr]
            partition.end_sync(*started)
            if not partition.sync_due():
                break

    # --- delivery -------------------------------------------------------------------------------------

    def _start_delivery(self, group: str) -> None:
        current = self._deliveries.get(group)
        if current is None or current.dead:
            self._deliveries[group] = runtime.spawn(self._deliver, group)

    def _deliver(self, name: str) -> None:
        partition, group = self.partition, self.partition.groups[name]
        logs.bind(topic=partition.topic, partition=partition.index, group=name)  # this greenlet's own context
        try:
            while True:
                partition.park(group)
                records, next_offset = partition.read(group.cursor, READ_BATCH)
                for record in records:
                    token = logs.bind(offset=record.offset)  # on every line the handler logs
                    try:
                        group.handler(record)
                    except _FATAL:
                        raise
                    except BaseException as exc:  # noqa: BLE001 — pyo3 panics too; retried, never skipped
                        _retry(group.handler, record, name, exc)
                    finally:
                        logs.unbind(token)
                    group.cursor = record.offset + 1
                    partition.committed()
                partition.consumed += len(records)
                group.cursor = max(group.cursor, next_offset)
                if len(records) == READ_BATCH:
                    runtime.sleep(0)  # a backlog of handlers that never yield must not starve other greenlets
        except _FATAL:
            raise
        except Exception as exc:
            logs.event(log, "broker.delivery_failed", logging.ERROR, exc_info=exc, offset=group.cursor)
            self.actor_ref.tell(_DeliveryFailed(name, repr(exc)))

    # --- metrics, health, housekeeping ----------------------------------------------------------------

    def _schedule_tick(self) -> None:
        self._timer = runtime.call_later(TICK_S, self._on_timer)

    def _on_timer(self) -> None:
        """In the timer's greenlet: the actor may be waiting on a stalled fsync and unable to look."""
        self._schedule_tick()
        self.partition.fail_stalled_sync()
        tell_if_alive(self.actor_ref, _TICK)

    def _tick(self) -> None:
        self._flush_counts()
        self.partition.save_offsets()
        self.partition.retain()
        self._report()

    def _flush_counts(self) -> None:
        partition = self.partition
        if partition.published:
            self.metrics.incr("broker.published", partition.published)
            partition.published = 0
        if partition.consumed:
            self.metrics.incr("broker.consumed", partition.consumed)
            partition.consumed = 0

    def _report(self) -> None:
        partition = self.partition
        lags = partition.lags()
        depth = max(lags.values(), default=0)
        self.metrics.gauge(f"broker.queue_depth.{segment(partition.topic)}.{partition.index}", depth)
        report_lags(self.metrics, partition.topic, partition.index, lags)
        health = {"offset": partition.head, "queue_depth": depth, "lag": lags}
        if health != self._health:
            self._health = health
            status = "degraded" if depth >= partition.capacity else "ok"
            self.report_health(status, True, **health)


def _retry(handler: Handler, record: Record, group: str, exc: BaseException) -> None:
    """Call ``handler`` again, with exponential backoff, until it returns."""
    attempt = 1
    while True:
        delay = min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** min(attempt - 1, 10))
        logs.event(log, "broker.handler_failed", logging.ERROR, exc_info=exc if attempt == 1 else None,
                   topic=record.topic, partition=record.partition, offset=record.offset, group=group,
                   attempt=attempt, retry_in_s=delay, error=repr(exc))
        runtime.sleep(delay)
        try:
            handler(record)
            return
        except _FATAL:
            raise
        except BaseException as again:  # noqa: BLE001
            attempt, exc = attempt + 1, again
