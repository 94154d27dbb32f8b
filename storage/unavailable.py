"""The database failing as a dependency does (unreachable, full, locked), told apart from a bug.

peewee raises ``OperationalError`` when PostgreSQL cannot be reached or drops the connection, and when
SQLite reports a full disk, an I/O error or a lock held past the busy timeout; ``InterfaceError`` when a
connection is already closed. Those are answered ``UNAVAILABLE`` with retry advice wherever a request
meets them (REST, ``/ws`` frames), never ``INTERNAL``: the client retries, and nothing was stored.
"""
from __future__ import annotations

import logging

import peewee

from domain import logs
from domain.errors import Unavailable

#: the exceptions that mean "the database is not available right now"
STORAGE_DOWN = (peewee.OperationalError, peewee.InterfaceError)


def storage_unavailable(error: Exception, log: logging.Logger, **context: object) -> Unavailable:
    """One log line (the driver's first line, no traceback: this is an outage, not a bug) and the error
    to answer. SQLite rolls a transaction back itself on a full disk, so peewee's own rollback then
    fails too: the line names the first failure (``cause``) as well."""
    cause = _first_failure(error)
    if cause is not None:
        context = {"cause": cause, **context}
    logs.event(log, "storage.unavailable", logging.ERROR, error=_first_line(error), **context)
    return Unavailable("storage unavailable, retry shortly")


def _first_failure(error: BaseException) -> str | None:
    """The message of the earliest exception ``error`` was raised while handling, if it says more."""
    chain: list[str] = []
    current: BaseException | None = error
    while current is not None and len(chain) < 8:
        chain.append(_first_line(current))
        current = current.__cause__ or current.__context__
    earlier = [message for message in chain if message != chain[0]]
    return earlier[-1] if earlier else None


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0][:300]
