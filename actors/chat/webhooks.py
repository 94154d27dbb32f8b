"""Webhooks: chat events become stored deliveries, and a singleton job sends them.

``enqueue_deliveries`` runs inside the chat writer's transaction, once per batch: it stores one
delivery per active webhook subscribed to the event whose owner is a member of the room, so the
deliveries commit with the messages and exist for every acknowledged event, even if the process dies
before the events reach ``chat.events``. Nothing is sent on the request path or by the chat writer.

``dispatch`` is a singleton job (``actors.cluster``): for each webhook with pending deliveries it sends
the oldest one, and the next only after that one succeeded, so a webhook receives its events in order,
one request at a time. A failed attempt (no 2xx within ``timeout_s``) is retried after an exponential
backoff with jitter; ``max_failures`` failures in a row disable the webhook and notify its owner.
Pending deliveries are rows, so a restart resumes them: delivery is at least once.

Every request is ``POST`` with the JSON body ``{id, event, created_at, data}`` and the headers
``X-Confab-Signature: sha256=<hex HMAC-SHA256 of the body with the webhook's secret>``,
``X-Confab-Event`` and ``X-Confab-Delivery`` (the delivery id, the same on every retry).

Each attempt resolves the URL's host again and checks every address against ``domain.outbound`` (public
addresses, or ``allowed_targets``), then connects to the address it checked while sending the URL's
host as ``Host`` and as the TLS server name. A refused address is never contacted and counts as a
failed attempt like any unreachable one, so what the owner sees (``failure_count``, the disabling)
does not tell whether something internal would have answered.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import time
from datetime import timedelta
from typing import Any, Callable, Iterable

import gevent
import gevent.pool
import urllib3

from actors.chat.notifications import live_event
from actors.cluster import SingletonJob
from actors.outbound import pinned_pool
from domain import logs
from domain.chat_events import Event
from domain.config import WebhooksConfig
from domain.metrics import Metrics
from domain.outbound import Refused, Resolver, policy_for, resolve_host
from storage import webhooks as store
from storage.models import Webhook, WebhookDelivery, new_id, utcnow

log = logging.getLogger("confab.webhooks")

EVENT_NAMES = {"new_message": "message.created", "message_edited": "message.edited",
               "message_deleted": "message.deleted", "reaction_added": "reaction.added",
               "reaction_removed": "reaction.removed"}
REACTION_FIELDS = ("room_id", "message_id", "user_id", "emoji")
PARALLEL = 32  # webhooks served at once by one dispatch run
PER_RUN = 100  # most deliveries of one webhook sent by one run, so every run ends
KEEP_FINISHED = timedelta(days=7)
PRUNE_EVERY_S = 3600.0
HEADERS = {"User-Agent": "Confab-Webhooks/1", "Content-Type": "application/json"}


def sign(secret: str, body: bytes) -> str:
    """The ``X-Confab-Signature`` value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff_s(attempt: int, base_s: float, max_s: float) -> float:
    """Delay after the ``attempt``-th failed attempt: ``base_s·2^(attempt-1)`` up to ``max_s``, of which a
    random half is taken off (equal jitter), so webhooks failing together do not retry together."""
    delay = min(max_s, base_s * 2 ** min(attempt - 1, 32))
    return delay / 2 + random.uniform(0, delay / 2)


def enqueue_deliveries(events: Iterable[Event]) -> int:
    """Inside the chat writer's transaction: store the deliveries of a batch's ``events`` (in their order)
    for the webhooks of their rooms, found in one query. Frames are decoded only in rooms with a webhook,
    so a batch without one costs that query alone. Returns how many deliveries were stored."""
    frames = [(e.room_id, e.frame) for e in events if e.frame is not None and e.control is None]
    hooks = store.subscribers({room_id for room_id, _ in frames}) if frames else {}
    if not hooks:
        return 0
    deliveries: list[tuple[str, str, str, dict[str, Any]]] = []
    for room_id, frame in frames:
        subscribed = hooks.get(room_id, [])
        payload = _payload(frame) if subscribed else None
        if payload is not None:
            source, (name, data) = new_id(), payload  # the event's id, shared by its deliveries
            deliveries += [(hook_id, source, name, data) for hook_id, names in subscribed if name in names]
    return store.enqueue(deliveries)


def _payload(frame: str) -> tuple[str, dict[str, Any]] | None:
    """(webhook event name, data) of a chat event frame, or None for a frame webhooks do not carry."""
    decoded = json.loads(frame)
    name = EVENT_NAMES.get(decoded["type"])
    if name is None:
        return None
    return name, decoded["message"] if name.startswith("message.") else {k: decoded[k] for k in REACTION_FIELDS}


class Webhooks:
    def __init__(self, config: WebhooksConfig, metrics: Metrics, publish: Callable[[Event], None],
                 resolve: Resolver = resolve_host) -> None:
        self.config, self.metrics, self.publish = config, metrics, publish
        self.policy, self.resolve = policy_for(config.allowed_targets), resolve
        self._http = urllib3.PoolManager(num_pools=PARALLEL * 2, maxsize=1, block=False)
        self._pruned_at = 0.0

    # --- the dispatch job -----------------------------------------------------------------------------

    def dispatch(self) -> None:
        """Send every due delivery: webhooks in parallel, each one's deliveries in order, one at a time."""
        if time.monotonic() - self._pruned_at >= PRUNE_EVERY_S:
            self._pruned_at = time.monotonic()
            store.prune(utcnow() - KEEP_FINISHED)
        pool = gevent.pool.Pool(PARALLEL)
        try:
            for webhook_id in store.busy_webhooks():
                pool.spawn(self._drain, webhook_id)
            pool.join()
        finally:
            pool.kill()  # the job was stopped: what is in flight is sent again later (at least once)

    def _drain(self, webhook_id: str) -> None:
        try:
            for _ in range(PER_RUN):
                due = store.head(webhook_id, utcnow())
                if due is None or not self._attempt(*due):
                    return
        except Exception as exc:  # noqa: BLE001 — storage trouble: the next run tries again
            logs.event(log, "webhook.dispatch_failed", logging.ERROR, exc_info=exc, webhook_id=webhook_id)

    def _attempt(self, delivery: WebhookDelivery, hook: Webhook) -> bool:
        """Send ``delivery`` once and record the result; True when it was delivered."""
        started = time.perf_counter()
        status, error = self.post(hook.url, hook.secret, delivery.id, delivery.event, delivery.body.encode())
        self.metrics.timing("webhooks.attempt", (time.perf_counter() - started) * 1000)
        if status is not None and 200 <= status < 300:
            store.delivered(delivery.id, hook.id, status)
            self.metrics.incr("webhooks.delivered")
            return True
        attempt = delivery.attempts + 1
        retry_in = backoff_s(attempt, self.config.backoff_base_s, self.config.backoff_max_s)
        disabled = store.failed(delivery.id, hook.id, status, error, retry_in, self.config.max_failures)
        self.metrics.incr("webhooks.failed")
        logs.event(log, "webhook.attempt_failed", logging.WARNING, webhook_id=hook.id, delivery_id=delivery.id,
                   attempt=attempt, status=status, error=error, retry_in_s=round(retry_in, 2))
        if disabled is not None:
            owner, notification = disabled
            self.metrics.incr("webhooks.disabled")
            logs.event(log, "webhook.disabled", logging.WARNING, webhook_id=hook.id, delivery_id=delivery.id,
                       user_id=owner, failures=self.config.max_failures)
            self.publish(live_event(owner, owner, notification))
        return False

    def post(self, url: str, secret: str, delivery_id: str, event: str, body: bytes) -> tuple[int | None, str]:
        """One signed POST; (HTTP status, "") or (status or None, what went wrong). Never longer than
        ``timeout_s``. The host is resolved once, here, and the connection goes to the address checked."""
        timeout = self.config.timeout_s
        try:
            with gevent.Timeout(timeout, TimeoutError(f"no answer within {timeout} s")):
                target = self.policy.target(url, self.resolve)
                headers = {**HEADERS, "Host": target.host_header, "X-Confab-Signature": sign(secret, body),
                           "X-Confab-Event": event, "X-Confab-Delivery": delivery_id}
                pool = pinned_pool(self._http, target)
                response = pool.urlopen("POST", target.path, body=body, headers=headers, retries=False,
                                        redirect=False, timeout=urllib3.Timeout(total=timeout),
                                        preload_content=False, assert_same_host=False)
                response.drain_conn()  # the body is not needed; reading it keeps the connection reusable
                response.release_conn()
        except Refused as exc:
            return None, f"refused: {exc}"
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            return None, str(exc) or type(exc).__name__
        return response.status, "" if 200 <= response.status < 300 else f"HTTP {response.status}"


def dispatch_job(config: WebhooksConfig, metrics: Metrics, publish: Callable[[Event], None]) -> SingletonJob:
    """The singleton job that sends the deliveries the chat writer stored."""
    hooks = Webhooks(config, metrics, publish)
    return SingletonJob("webhooks.dispatch", config.dispatch_interval_s, hooks.dispatch)
