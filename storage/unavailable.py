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
    to answer."""
    logs.event(log, "storage.unavailable", logging.ERROR, error=str(error).splitlines()[0][:300], **context)
    return Unavailable("storage unavailable, retry shortly")
