"""Webhooks and their pending deliveries (the outbox the dispatcher drains, so it survives a restart).

Deliveries are stored by the chat writer in the transaction of the events they carry (``subscribers``
then ``enqueue``), so an acknowledged event has its deliveries, whatever happens to ``chat.events``.
A delivery's ``body`` is the exact JSON sent (and signed) on every attempt. Deliveries of one webhook
go out strictly in ``ordinal`` order, one in flight at a time: only the oldest pending one (the head)
is ever attempted. ``source`` is the event's id, shared by the deliveries of one event.
"""
from __future__ import annotations

import json
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from domain import jsonfmt
from domain.errors import Conflict, NotFound
from storage import notifications
from storage.db import database, reading, unit_of_work
from storage.models import RoomMember, Webhook, WebhookDelivery, new_id, utcnow
from storage.models.webhooks import DELIVERED, FAILED, PENDING

EVENTS = ("message.created", "message.edited", "message.deleted", "reaction.added", "reaction.removed")
MAX_PER_USER = 25


_ENQUEUE_SQL = ("INSERT INTO webhook_delivery (id, webhook_id, ordinal, source, event, body, status, attempts, "
                "next_attempt_at, last_error, created_at) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, 0, {p}, '', {p})")

_last_ordinal = 0


def _next_ordinal() -> int:
    """Nanoseconds since the epoch, strictly increasing within this process (never yields: atomic)."""
    global _last_ordinal
    _last_ordinal = max(_last_ordinal + 1, time.time_ns())
    return _last_ordinal


# --- the REST side -------------------------------------------------------------------------------------

def webhook_dict(hook: Webhook, *, reveal: bool = False) -> dict[str, Any]:
    """The API object; the secret in full only when ``reveal`` (at creation), else a hint of it."""
    return {"id": hook.id, "url": hook.url, "events": json.loads(hook.events),
            "secret": hook.secret if reveal else hook.secret[:6] + "…" + hook.secret[-4:],
            "is_active": hook.is_active, "created_at": hook.created_at, "failure_count": hook.failure_count}


def create(user_id: str, url: str, events: list[str]) -> dict[str, Any]:
    with unit_of_work():
        if Webhook.select().where(Webhook.user == user_id).count() >= MAX_PER_USER:
            raise Conflict(f"at most {MAX_PER_USER} webhooks per user; delete one first")
        hook = Webhook.create(user=user_id, url=url, events=json.dumps(sorted(set(events))),
                              secret="whsec_" + secrets.token_hex(24))
    return webhook_dict(hook, reveal=True)


def list_for(user_id: str) -> list[dict[str, Any]]:
    with reading():
        return [webhook_dict(h) for h in Webhook.select().where(Webhook.user == user_id)
                .order_by(Webhook.created_at, Webhook.id)]


def update(user_id: str, webhook_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Change ``url``, ``events`` or ``is_active`` of one of the caller's webhooks. Turning it back on
    clears its failure count: deliveries resume with events from then on (those given up stay so)."""
    values: dict[Any, Any] = {}
    if "url" in changes:
        values[Webhook.url] = changes["url"]
    if "events" in changes:
        values[Webhook.events] = json.dumps(sorted(set(changes["events"])))
    if changes.get("is_active") is True:
        values.update({Webhook.is_active: True, Webhook.failure_count: 0, Webhook.disabled_at: None})
    elif changes.get("is_active") is False:
        values.update({Webhook.is_active: False, Webhook.disabled_at: utcnow()})
    with unit_of_work():
        hook = Webhook.get_or_none((Webhook.id == webhook_id) & (Webhook.user == user_id))
        if hook is None:
            raise NotFound("webhook not found")
        if values:
            Webhook.update(values).where(Webhook.id == webhook_id).execute()
        return webhook_dict(Webhook.get_by_id(webhook_id))


def delete(user_id: str, webhook_id: str) -> None:
    """Delete one of the caller's webhooks with its pending deliveries."""
    with unit_of_work():
        if not Webhook.delete().where((Webhook.id == webhook_id) & (Webhook.user == user_id)).execute():
            raise NotFound("webhook not found")


# --- the outbox ----------------------------------------------------------------------------------------

def subscribers(room_ids: set[str]) -> dict[str, list[tuple[str, frozenset[str]]]]:
    """Inside the caller's transaction, in one query: room → (webhook id, subscribed events) of the active
    webhooks whose owner is a member of the room (can read it) at this moment."""
    found: dict[str, list[tuple[str, frozenset[str]]]] = {}
    query = (Webhook.select(Webhook.id, Webhook.events, RoomMember.room)
             .join(RoomMember, on=(RoomMember.user == Webhook.user))
             .where(RoomMember.room.in_(room_ids) & (Webhook.is_active == True)).tuples())  # noqa: E712
    for webhook_id, events, room_id in query:
        found.setdefault(room_id, []).append((webhook_id, frozenset(json.loads(events))))
    return found


def enqueue(deliveries: list[tuple[str, str, str, dict[str, Any]]]) -> int:
    """Store ``(webhook id, event id, event name, data)`` deliveries inside the caller's transaction; each
    webhook receives them in the order given. Returns how many were stored. Plain SQL, because it runs
    in the chat writer's group commit: peewee's ``insert_many`` took ~70 µs a row, ``executemany`` ~17."""
    now = utcnow()
    stamp = WebhookDelivery.created_at.db_value(now)
    rows = []
    for webhook_id, source, event, data in deliveries:
        delivery_id = new_id()
        body = jsonfmt.dumps({"id": delivery_id, "event": event, "created_at": now, "data": data})
        rows.append((delivery_id, webhook_id, _next_ordinal(), source, event, body, PENDING, stamp, stamp))
    if rows:
        database.cursor().executemany(_ENQUEUE_SQL.format(p=database.param), rows)
    return len(rows)


def busy_webhooks() -> list[str]:
    """Active webhooks with at least one pending delivery."""
    with reading():
        query = (WebhookDelivery.select(WebhookDelivery.webhook).distinct().join(Webhook)
                 .where((WebhookDelivery.status == PENDING) & (Webhook.is_active == True)))  # noqa: E712
        return [row.webhook_id for row in query]


def head(webhook_id: str, now: datetime) -> tuple[WebhookDelivery, Webhook] | None:
    """The webhook's oldest pending delivery if it is due now (and the webhook still active)."""
    with reading():
        hook = Webhook.get_or_none((Webhook.id == webhook_id) & (Webhook.is_active == True))  # noqa: E712
        if hook is None:
            return None
        delivery = (WebhookDelivery.select()
                    .where((WebhookDelivery.webhook == webhook_id) & (WebhookDelivery.status == PENDING))
                    .order_by(WebhookDelivery.ordinal).first())
    if delivery is None or delivery.next_attempt_at > now:
        return None
    return delivery, hook


def delivered(delivery_id: str, webhook_id: str, status: int) -> None:
    with unit_of_work():
        WebhookDelivery.update(status=DELIVERED, attempts=WebhookDelivery.attempts + 1, last_status=status,
                               last_error="", finished_at=utcnow()).where(WebhookDelivery.id == delivery_id).execute()
        Webhook.update(failure_count=0).where(Webhook.id == webhook_id).execute()


def failed(delivery_id: str, webhook_id: str, status: int | None, error: str, retry_in_s: float,
           max_failures: int) -> tuple[str, dict[str, Any]] | None:
    """Record a failed attempt and schedule the retry. At ``max_failures`` failures in a row the webhook
    is disabled, its pending deliveries given up, and its owner gets a ``webhook_disabled``
    notification: returned as (owner id, notification) so it can be sent live."""
    now = utcnow()
    with unit_of_work():
        WebhookDelivery.update(attempts=WebhookDelivery.attempts + 1, last_status=status, last_error=error[:500],
                               next_attempt_at=now + timedelta(seconds=retry_in_s)
                               ).where(WebhookDelivery.id == delivery_id).execute()
        Webhook.update(failure_count=Webhook.failure_count + 1).where(Webhook.id == webhook_id).execute()
        hook = Webhook.get_or_none(Webhook.id == webhook_id)  # None: deleted meanwhile
        if hook is None or not hook.is_active or hook.failure_count < max_failures:
            return None
        Webhook.update(is_active=False, disabled_at=now).where(Webhook.id == webhook_id).execute()
        WebhookDelivery.update(status=FAILED, finished_at=now).where(
            (WebhookDelivery.webhook == webhook_id) & (WebhookDelivery.status == PENDING)).execute()
        (notification,) = notifications.insert([{
            "user": hook.user_id, "kind": "webhook_disabled", "room": None, "message": None, "actor": None,
            "snippet": notifications.snippet(f"webhook {hook.url} disabled after {hook.failure_count} failed "
                                             f"deliveries in a row")}])
    return hook.user_id, notification


def prune(older_than: datetime) -> int:
    """Forget finished deliveries older than ``older_than``."""
    with unit_of_work():
        return WebhookDelivery.delete().where((WebhookDelivery.status != PENDING)
                                              & (WebhookDelivery.finished_at < older_than)).execute()
