"""The ``push.dispatch`` singleton job: each mention, DM or reply to a person with no socket open
anywhere is pushed to every browser they subscribed (Web Push, RFC 8030, encrypted per RFC 8291 and
signed with the server's VAPID key by ``pywebpush``). A subscription the push service no longer knows
(404, 410) is removed; other failures are logged and not retried. Push endpoints are checked like
webhook URLs (``webhooks.allowed_targets``): no internal address unless allowed, and the request goes to
the address that was checked (``actors.outbound``: a host rebinding its DNS answer gains nothing).

Progress is stored: a cursor in (created_at, id) order (``storage.job_cursors``) moved after each
notification is handled, so a restarted process, or the next holder of the lease (``actors.cluster``),
resumes where the last run stopped. A new installation, or one upgraded from a version without it,
starts at its first run, never in the past. A notification is looked at once it is ``SETTLE`` old: a
cluster's chat writers stamp ``created_at`` before they commit, each with its own clock, so a younger
row could otherwise commit behind the cursor and never be seen. One older than ``push.max_age_s`` when
the job reaches it (no instance ran the job for that long) is counted (``push.skipped``) and logged
(``push.skipped_stale``), not pushed: a phone should not ring for yesterday's mentions.

Delivery is at least once: the cursor moves after the push, so a process killed between the two pushes
that notification again. A duplicate is harmless, since the service worker shows a notification under
its id as tag (the second replaces the first), while a mention lost to a crash (at most once) would go
unnoticed by everyone. A holder whose run outlives its lease stops at its next move (a compare-and-set),
so two holders push at most the notification in flight twice.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from py_vapid import Vapid02

from actors import runtime
from actors.cluster import SingletonJob
from actors.outbound import pinned_session
from domain import jsonfmt, logs
from domain.config import AppConfig
from domain.metrics import Metrics
from domain.outbound import AddressPolicy, Refused, Resolver, policy_for, resolve_host
from storage import job_cursors, push, push_keys
from storage.job_cursors import Cursor
from storage.models import utcnow
from storage.secrets import VAPID_KEY_FILE

log = logging.getLogger("confab.push")

TIMEOUT_S = 10.0  # for the whole request: requests' own timeout bounds each read, and a trickle never ends
GONE = (404, 410)
#: how long the push service keeps a message for a device that is off (pywebpush's default, 0, lets it drop
#: the message unless the device is reachable that instant); after that the e-mail digest still tells
TTL_S = 12 * 3600
CURSOR = "push.dispatch"
SETTLE = timedelta(seconds=2)
IDLE_MOVE = timedelta(seconds=30)  # with nothing to push, the cursor catches up this often: reads stay short


class PushJob:
    def __init__(self, vapid: Vapid02, presence: Any, policy: AddressPolicy, contact: str, metrics: Metrics,
                 max_age_s: float, resolve: Resolver = resolve_host, timeout_s: float = TIMEOUT_S) -> None:
        self._vapid, self._presence, self._metrics, self._timeout_s = vapid, presence, metrics, timeout_s
        self._session = pinned_session(policy, resolve)
        self._claims = {"sub": f"mailto:{contact}"}
        self._max_age = timedelta(seconds=max_age_s)

    def run(self) -> None:
        now = utcnow()
        until = now - SETTLE
        cursor: Cursor | None = job_cursors.load(CURSOR, until)
        if cursor.at < now - self._max_age:
            cursor = self._skip_stale(cursor, now - self._max_age)
        pending = push.pending(cursor, until) if cursor else []
        if not pending:
            if cursor and cursor.at < until - IDLE_MOVE:
                self._move(cursor, until)
            return
        online = set(self._presence.online())
        for user_id, notification, subscriptions in pending:
            if user_id not in online:
                payload = jsonfmt.dumps({"type": "notification", "notification": notification})
                for subscription in subscriptions:
                    self.send(subscription, payload)
            cursor = self._move(cursor, notification["created_at"], notification["id"])
            if cursor is None:
                return

    def _skip_stale(self, cursor: Cursor, cutoff: datetime) -> Cursor | None:
        """Jump to ``cutoff`` over what was created before it: counted and logged, not pushed."""
        skipped = push.count_pending(cursor, cutoff)
        moved = self._move(cursor, cutoff)
        if moved is not None and skipped:
            self._metrics.incr("push.skipped", skipped)
            logs.event(log, "push.skipped_stale", logging.WARNING, notifications=skipped, since=cursor.at.isoformat(),
                       max_age_s=self._max_age.total_seconds())
        return moved

    def _move(self, cursor: Cursor, at: datetime, after_id: str = "") -> Cursor | None:
        """The moved cursor, or None when another holder of the lease moved it first (this run stops)."""
        moved = job_cursors.move(CURSOR, cursor, at, after_id)
        if moved is None:
            logs.event(log, "push.cursor_taken", logging.WARNING)
        return moved

    def send(self, subscription: push.PushSubscription, payload: str) -> None:
        """Push ``payload`` to one subscription: counted as sent or failed, or the subscription forgotten."""
        # imported at the first push, not at start-up: pywebpush imports aiohttp (~9 MB of every process's RSS)
        from pywebpush import WebPushException, webpush
        post = partial(webpush, {"endpoint": subscription.endpoint,
                                 "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}},
                       data=payload, vapid_private_key=self._vapid, vapid_claims=dict(self._claims),
                       timeout=self._timeout_s, ttl=TTL_S, requests_session=self._session)
        try:
            if not runtime.within(self._timeout_s, post):
                raise TimeoutError(f"no answer within {self._timeout_s} s")
        except (WebPushException, Refused, OSError, ValueError) as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if status in GONE:
                push.forget(subscription.endpoint)
                logs.event(log, "push.gone", subscription_id=subscription.id, status=status)
                return
            self._metrics.incr("push.failed")
            logs.event(log, "push.failed", logging.WARNING, subscription_id=subscription.id, status=status,
                       error=str(exc)[:200])
            return
        self._metrics.incr("push.sent")


def dispatch_job(config: AppConfig, presence: Any, metrics: Metrics) -> SingletonJob:
    """The ``push.dispatch`` job as every instance builds it: whichever holds the lease resumes at the
    stored cursor, so nothing about the last holder's run needs to be known here."""
    job = PushJob(push_keys.load_or_create(config.data_path / VAPID_KEY_FILE), presence,
                  policy_for(config.webhooks.allowed_targets), config.email.from_address, metrics,
                  config.push.max_age_s)
    return SingletonJob("push.dispatch", config.push.interval_s, job.run)
