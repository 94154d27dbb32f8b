"""Recording an audit event (``storage.audit``) for the current request: its caller, client address and
request id come from the request itself."""
from __future__ import annotations

from typing import Any

from flask import g

from storage import audit as audit_log


def audit(action: str, target_id: str | None = None, *, actor_id: str | None = None, **detail: Any) -> None:
    """Record ``action``; ``actor_id`` defaults to the authenticated caller (None when anonymous). Never
    pass a secret in ``detail``."""
    caller = g.get("principal")
    if actor_id is None and caller is not None:
        actor_id = caller.user_id
        if caller.api_key_id:
            detail.setdefault("api_key_id", caller.api_key_id)
    audit_log.record(action, actor_id, target_id, g.get("client_ip"), g.get("request_id"), **detail)
