"""Audit log retention (issue 16), on both engines: the ``audit.retention`` singleton job deletes the
events older than ``audit.retention_days`` and keeps the others, with one log line per pass that
deleted any; what is left is what ``GET /admin/audit`` pages through."""
from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import pytest

from storage.db import unit_of_work
from storage.models import AuditEvent, utcnow
from tests.support.chat_helpers import Api
from tests.support.harness import LogRecords, Server, register

pytestmark = pytest.mark.engines("sqlite", "postgresql")
SERVER_CONFIG = {"audit": {"retention_days": "30", "retention_interval_s": "1"}, "logging": {"level": "INFO"}}


def actions(admin: Api) -> list[str]:
    response = admin.get("/admin/audit", params={"limit": 200})
    assert response.status_code == 200, response.text
    return [event["action"] for event in response.json()["items"]]


def test_events_past_the_retention_go_and_the_others_stay(server: Server) -> None:
    first = register(server.base)
    admin = Api(server.base, first)
    with unit_of_work():  # events recorded long ago (the job's cutoff is 30 days)
        for action, age in (("test.aged", 400), ("test.aged", 31), ("test.kept", 29)):
            AuditEvent.create(action=action, actor_id=None, at=utcnow() - timedelta(days=age))
    with LogRecords(logging.INFO) as records:
        deadline = time.monotonic() + 15
        while "test.aged" in actions(admin):
            assert time.monotonic() < deadline, "the retention job did not delete the old events"
            time.sleep(0.2)
        pruned = _pruned(records, deadline)
    assert pruned.getMessage() == "audit.pruned" and pruned.fields["events"] == 2  # type: ignore[attr-defined]
    assert pruned.fields["retention_days"] == 30  # type: ignore[attr-defined]
    left = actions(admin)
    assert "test.kept" in left and {"user.registered", "login"} <= set(left)


def _pruned(records: LogRecords, deadline: float) -> Any:
    """The job's log line (it may come a moment after its transaction committed)."""
    while True:
        lines = [r for r in records.records if r.getMessage() == "audit.pruned"]
        if lines:
            return lines[0]
        assert time.monotonic() < deadline, "no audit.pruned line"
        time.sleep(0.05)
