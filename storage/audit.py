"""The audit log: security and administration events, stored durably, newest first.

An event names its action (``login.failed``, ``user.suspended``, …), who did it (null for an anonymous
caller), what it was done to, the client address and request id, and a small ``detail`` object. Callers
never put secrets in it (passwords, tokens, keys): only ids, names and counts. Events older than
``audit.retention_days`` are deleted by the ``audit.retention`` singleton job (``apply_retention``).
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from domain import logs
from storage.db import reading, unit_of_work
from storage.models import AuditEvent, utcnow

log = logging.getLogger("confab.audit")

#: events deleted per transaction: a first pass over years of events never holds SQLite's write lock long
PRUNE_BATCH = 2000


def record(action: str, actor_id: str | None, target_id: str | None = None, client_ip: str | None = None,
           request_id: str | None = None, **detail: Any) -> None:
    with unit_of_work():
        add(action, actor_id, target_id, client_ip, request_id, **detail)


def add(action: str, actor_id: str | None, target_id: str | None = None, client_ip: str | None = None,
        request_id: str | None = None, **detail: Any) -> None:
    """``record`` inside the caller's transaction: the event commits (or not) with the change it describes."""
    AuditEvent.create(action=action, actor_id=actor_id, target_id=target_id, client_ip=client_ip,
                      request_id=request_id, detail=json.dumps(detail, default=str, sort_keys=True))


def newest(limit: int, before: tuple[datetime, str] | None = None, action: str | None = None) -> list[AuditEvent]:
    """Up to ``limit`` events older than ``before`` (a time and an id), newest first."""
    query = AuditEvent.select().order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    if before is not None:
        at, event_id = before
        query = query.where((AuditEvent.at < at) | ((AuditEvent.at == at) & (AuditEvent.id < event_id)))
    if action:
        query = query.where(AuditEvent.action == action)
    with reading():
        return list(query)


def event_dict(event: AuditEvent) -> dict[str, Any]:
    return {"id": event.id, "at": event.at, "action": event.action, "actor_id": event.actor_id,
            "target_id": event.target_id, "client_ip": event.client_ip, "request_id": event.request_id,
            "detail": json.loads(event.detail)}


def apply_retention(days: int) -> int:
    """The ``audit.retention`` job: delete the events older than ``days`` (0 keeps every event); one log
    line when any went. Returns how many."""
    if not days:
        return 0
    cutoff = utcnow() - timedelta(days=days)
    deleted = prune(cutoff)
    if deleted:
        logs.event(log, "audit.pruned", events=deleted, retention_days=days, older_than=cutoff.isoformat())
    return deleted


def prune(older_than: datetime) -> int:
    """Delete the events recorded before ``older_than``, ``PRUNE_BATCH`` to a transaction."""
    deleted = 0
    while True:
        with unit_of_work():
            batch = AuditEvent.select(AuditEvent.id).where(AuditEvent.at < older_than).limit(PRUNE_BATCH)
            count = AuditEvent.delete().where(AuditEvent.id.in_(batch)).execute()
        deleted += count
        if count < PRUNE_BATCH:
            return deleted
