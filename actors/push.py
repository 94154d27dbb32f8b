"""The ``push.dispatch`` singleton job: each mention, DM or reply to a person with no socket open
anywhere is pushed to every browser they subscribed (Web Push, RFC 8030, encrypted per RFC 8291 and
signed with the server's VAPID key by ``pywebpush``). A subscription the push service no longer knows
(404, 410) is removed; other failures are logged and not retried. Push endpoints are checked like
webhook URLs (``webhooks.allowed_targets``): no internal address unless allowed, and the request goes to
the address that was checked (``actors.outbound``: a host rebinding its DNS answer gains nothing)."""
from __future__ import annotations

import logging
from typing import Any

from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

from actors.outbound import pinned_session
from domain import jsonfmt, logs
from domain.metrics import Metrics
from domain.outbound import AddressPolicy, Refused, Resolver, resolve_host
from storage import push
from storage.models import utcnow

log = logging.getLogger("confab.push")

TIMEOUT_S = 10.0
PUSH_EVERY_S = 1.0  # how often new notifications are looked for (once per cluster heartbeat)
GONE = (404, 410)


class PushJob:
    def __init__(self, vapid: Vapid02, presence: Any, policy: AddressPolicy, contact: str, metrics: Metrics,
                 resolve: Resolver = resolve_host) -> None:
        self._vapid, self._presence, self._metrics = vapid, presence, metrics
        self._session = pinned_session(policy, resolve)
        self._claims = {"sub": f"mailto:{contact}"}
        self._since = utcnow()  # this holder of the job pushes what is created from now on

    def run(self) -> None:
        pending = push.pending(self._since)
        if not pending:
            return
        online = set(self._presence.online())
        for user_id, notification, subscriptions in pending:
            self._since = max(self._since, notification["created_at"])
            if user_id in online:
                continue
            payload = jsonfmt.dumps({"type": "notification", "notification": notification})
            for subscription in subscriptions:
                self.send(subscription, payload)

    def send(self, subscription: push.PushSubscription, payload: str) -> None:
        """Push ``payload`` to one subscription: counted as sent or failed, or the subscription forgotten."""
        try:
            webpush({"endpoint": subscription.endpoint, "keys": {"p256dh": subscription.p256dh,
                                                                 "auth": subscription.auth}},
                    data=payload, vapid_private_key=self._vapid, vapid_claims=dict(self._claims), timeout=TIMEOUT_S,
                    requests_session=self._session)
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
