"""The storage component: opens the database and migrates it at start-up, then watches it.

Opening and migrating happen before the actor starts, so a bad database URL stops the process with
one line instead of a half-started server. The actor checks the connection every few seconds and
reports the engine, schema version and round-trip time as the ``storage`` component's health.
"""
from __future__ import annotations

import logging
import time
import peewee
import pykka

from actors.component import HealthSink, PeriodicActor
from actors.supervisor import ChildHandle, ChildSpec, start_child
from domain import logs
from domain.config import AppConfig
from storage import migrations
from storage.db import engine_name, open_database, reading

log = logging.getLogger("confab.storage")


class StorageActor(PeriodicActor):
    def __init__(self, health_sink: HealthSink, schema_version: int, interval_s: float) -> None:
        super().__init__("storage", health_sink, interval_s)
        self._schema_version = schema_version

    def tick(self) -> None:
        started = time.perf_counter()
        try:
            with reading() as db:
                db.execute_sql("SELECT 1")
            self.report_health("ok", True, engine=engine_name(), schema_version=self._schema_version,
                               ping_ms=round((time.perf_counter() - started) * 1000, 2))
        except peewee.PeeweeException as exc:
            logs.event(log, "storage.check_failed", logging.ERROR, error=str(exc).splitlines()[0])
            self.report_health("down", False, engine=engine_name(), error=str(exc).splitlines()[0])


def start_storage(supervisor: pykka.ActorRef, config: AppConfig, check_interval_s: float = 5.0) -> ChildHandle:
    """Open and migrate the database (raises StorageUnavailable), then supervise its health actor."""
    db = open_database(config)
    version = migrations.migrate(db)
    return start_child(supervisor, ChildSpec(
        "storage", "storage", lambda sink: StorageActor.start(sink, version, check_interval_s)))
