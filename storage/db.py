"""The database handle: SQLite in WAL mode by default, PostgreSQL (psycopg 3, gevent-cooperative) at scale.

Models bind to ``database`` (a proxy) so the same models run on either engine. Repositories open a
pooled connection per unit of work with ``unit_of_work()``; SQLite calls block the gevent hub, so a
unit of work never yields (no network I/O, no actor ask) between its first and last statement.

Group commits (the chat writer, the document update log) run on SQLite on a dedicated OS thread, so
an fsync never stalls the hub: such a thread calls ``use_own_connection()`` once, and from then on
every model query made on that thread goes through its own connection (the proxy routes by OS thread),
never through the pool, whose locks and connection state belong to the hub's greenlets.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlparse

import peewee
from gevent import getcurrent, monkey
from playhouse.pool import PooledDatabase, PooledPostgresqlDatabase, PooledSqliteDatabase

from domain import logs
from domain.config import AppConfig

log = logging.getLogger("confab.storage")

_os_thread_id = monkey.get_original("_thread", "get_ident")  # threading's is per greenlet under gevent


class _ThreadRoutedProxy(peewee.DatabaseProxy):
    """The models' database: the shared one, or the calling OS thread's (or greenlet's) own connection."""
    __slots__ = ("_shared", "_own")

    def __init__(self) -> None:
        self._own: dict[Any, peewee.Database] = {}  # OS thread id, or greenlet → its own connection
        super().__init__()

    def __setattr__(self, attr: str, value: Any) -> None:  # Proxy allows only its own slots
        object.__setattr__(self, attr, value)

    @property  # type: ignore[override]
    def obj(self) -> Any:
        if not self._own:
            return self._shared
        return self._own.get(_os_thread_id()) or self._own.get(getcurrent()) or self._shared

    @obj.setter
    def obj(self, value: Any) -> None:
        self._shared = value


class _ThreadSqlite(peewee.SqliteDatabase):
    """One OS thread's own connection, kept open between units of work (``close`` is for the thread's end)."""

    def close(self) -> bool:
        return False

    def close_for_good(self) -> None:
        super().close()


database = _ThreadRoutedProxy()
#: a group-commit thread waits this long for SQLite's write lock: waiting there stalls no socket, and
#: a batch refused for a lock held a few seconds (a busy machine) would be answered UNAVAILABLE
THREAD_BUSY_TIMEOUT_MS = 30_000


class StorageUnavailable(RuntimeError):
    """The configured database cannot be opened; the message is one line for the operator."""


def _sqlite_pragmas(busy_timeout_ms: int) -> dict[str, Any]:
    return {"journal_mode": "wal", "synchronous": "full", "foreign_keys": 1, "busy_timeout": busy_timeout_ms,
            "cache_size": -16000}


def open_database(config: AppConfig) -> peewee.Database:
    """Create the engine for ``config.database_url`` and bind the models' proxy to it."""
    url = config.database_url
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        path.parent.mkdir(parents=True, exist_ok=True)
        db: peewee.Database = PooledSqliteDatabase(
            str(path), max_connections=config.database.pool_size, timeout=10, stale_timeout=300,
            pragmas=_sqlite_pragmas(config.database.busy_timeout_ms), returning_clause=True)
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
        reason = str(exc).splitlines()[0]
        raise StorageUnavailable(logs.redact_urls(f"database: cannot connect to {url}: {reason}")) from None
    logs.event(log, "database.opened", engine=engine_name(db), url=logs.redact_urls(url))
    return db


def engine_name(db: peewee.Database | None = None) -> str:
    target = db or database.obj
    return "postgresql" if isinstance(target, peewee.PostgresqlDatabase) else "sqlite"


@contextmanager
def unit_of_work() -> Iterator[peewee.Database]:
    """A pooled connection and one transaction, committed on success, rolled back on error.

    On SQLite the transaction takes the write lock when it begins (``BEGIN IMMEDIATE``): the group
    commit threads write beside the hub, and a deferred transaction that read first could not take the
    lock once another connection had committed meanwhile ("database is locked", with no wait)."""
    with database.connection_context():
        with (database.atomic(lock_type="IMMEDIATE") if is_sqlite() else database.atomic()):
            yield database


@contextmanager
def reading() -> Iterator[peewee.Database]:
    """A pooled connection for reads (no explicit transaction)."""
    with database.connection_context():
        yield database


def serialize(key: int) -> None:
    """Inside a unit of work: wait until no other transaction holds ``key``, then hold it until this one
    ends, so a rule read and then written (the first account is an admin; an admin is left) cannot be
    passed by two transactions at once. PostgreSQL: a transaction-scoped advisory lock. SQLite: nothing
    more, since a unit of work already holds the database's one write lock (``BEGIN IMMEDIATE``)."""
    if not is_sqlite():
        database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (key,))


def probe_write() -> None:
    """Inside a unit of work: a write that changes nothing yet needs the disk and the connection
    (rewrites the newest schema_version row), to learn whether storage can commit again."""
    database.execute_sql("UPDATE schema_version SET applied_at = applied_at "
                         "WHERE version = (SELECT MAX(version) FROM schema_version)")


def use_own_connection() -> None:
    """On an OS thread of its own: from now on this thread's queries use a connection of its own
    (SQLite only; PostgreSQL needs none: psycopg waits cooperatively on the hub)."""
    shared = database._shared
    pragmas = dict(shared._pragmas)
    pragmas["busy_timeout"] = max(int(pragmas.get("busy_timeout", 0)), THREAD_BUSY_TIMEOUT_MS)
    own = _ThreadSqlite(shared.database, pragmas=pragmas, timeout=THREAD_BUSY_TIMEOUT_MS / 1000,
                        returning_clause=True, thread_safe=False)
    database._own[_os_thread_id()] = own


class _CommitElsewhere(_ThreadSqlite):
    """A greenlet's own connection whose COMMIT (the fsync) runs through ``commit_on`` (an OS thread):
    the statements run where the greenlet runs, the wait for the disk does not."""

    def __init__(self, *args: Any, commit_on: Callable[[Callable[[], Any]], Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._commit_on = commit_on

    def commit(self) -> None:
        cursor = self.cursor()
        with peewee.__exception_wrapper__:
            self._commit_on(lambda: cursor.execute("COMMIT"))


def use_own_connection_here(commit_on: Callable[[Callable[[], Any]], Any]) -> None:
    """In a greenlet that writes in group commits (SQLite): from now on its queries use a connection of
    its own, whose COMMIT runs through ``commit_on`` (on an OS thread) while the hub goes on."""
    shared = database._shared
    pragmas = dict(shared._pragmas)
    database._own[getcurrent()] = _CommitElsewhere(shared.database, pragmas=pragmas, timeout=10,
                                                   returning_clause=True, thread_safe=False,
                                                   check_same_thread=False, commit_on=commit_on)


def release_own_connection(greenlet: Any = None) -> None:
    """Close the calling OS thread's own connection (at the end of the thread), or ``greenlet``'s."""
    own = database._own.pop(_os_thread_id() if greenlet is None else greenlet, None)
    if own is not None:
        own.close_for_good()


def is_sqlite() -> bool:
    return engine_name() == "sqlite"


def close_database() -> None:
    """Close the pool's idle connections and the caller's. A connection some greenlet still holds is
    left to it (it closes when returned, or with the process): closing the socket under a greenlet
    that waits on it aborts the process (libev: "I/O watcher with invalid fd found in epoll_ctl")."""
    db = database.obj
    if db is None:
        return
    if isinstance(db, PooledDatabase):
        db.close_idle()
    db.close()
