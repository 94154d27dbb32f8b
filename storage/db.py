"""The database handle: SQLite in WAL mode by default, PostgreSQL (psycopg 3, gevent-cooperative) at scale.

Models bind to ``database`` (a proxy) so the same models run on either engine. Repositories open a
pooled connection per unit of work with ``unit_of_work()``; SQLite calls block the gevent hub, so a
unit of work never yields (no network I/O, no actor ask) between its first and last statement.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

import peewee
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

from domain import logs
from domain.config import AppConfig

log = logging.getLogger("confab.storage")

database = peewee.DatabaseProxy()


class StorageUnavailable(RuntimeError):
    """The configured database cannot be opened; the message is one line for the operator."""


def open_database(config: AppConfig) -> peewee.Database:
    """Create the engine for ``config.database_url`` and bind the models' proxy to it."""
    url = config.database_url
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        path.parent.mkdir(parents=True, exist_ok=True)
        db: peewee.Database = PooledSqliteDatabase(
            str(path), max_connections=config.database.pool_size, timeout=10, stale_timeout=300,
            pragmas={"journal_mode": "wal", "synchronous": "full", "foreign_keys": 1,
                     "busy_timeout": config.database.busy_timeout_ms, "cache_size": -16000})
    else:
        parsed = urlparse(url)
        db = PooledPostgresqlDatabase(
            parsed.path.lstrip("/") or "postgres", user=parsed.username, password=parsed.password,
            host=parsed.hostname, port=parsed.port or 5432, max_connections=config.database.pool_size,
            timeout=10, stale_timeout=300, connect_timeout=5)
    database.initialize(db)
    try:
        with db.connection_context():
            db.execute_sql("SELECT 1")
    except peewee.OperationalError as exc:
        raise StorageUnavailable(f"database: cannot connect to {_redact(url)}: {str(exc).splitlines()[0]}") from None
    logs.event(log, "database.opened", engine=engine_name(db), url=_redact(url))
    return db


def engine_name(db: peewee.Database | None = None) -> str:
    target = db or database.obj
    return "postgresql" if isinstance(target, peewee.PostgresqlDatabase) else "sqlite"


def _redact(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url


@contextmanager
def unit_of_work() -> Iterator[peewee.Database]:
    """A pooled connection and one transaction, committed on success, rolled back on error."""
    with database.connection_context():
        with database.atomic():
            yield database


@contextmanager
def reading() -> Iterator[peewee.Database]:
    """A pooled connection for reads (no explicit transaction)."""
    with database.connection_context():
        yield database


def close_database() -> None:
    db = database.obj
    if db is not None:
        db.close_all() if hasattr(db, "close_all") else db.close()
