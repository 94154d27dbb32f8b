"""The audit log: security and administration events, stored durably, newest first.

An event names its action (``login.failed``, ``user.suspended``, …), who did it (null for an anonymous
caller), what it was done to, the client address and request id, and a small ``detail`` object. Callers
never put secrets in it (passwords, tokens, keys): only ids, names and counts.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from storage.db import reading, unit_of_work
from storage.models import AuditEvent


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
