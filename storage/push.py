"""Web Push subscriptions (one per browser that opted in) and the notifications to push: unread mentions,
DMs and replies to someone with a subscription, after the push job's cursor (``storage.job_cursors``) in
(created_at, id) order."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import peewee

from domain.errors import NotFound
from storage.db import reading, unit_of_work
from storage.digests import KINDS
from storage.job_cursors import Cursor
from storage.models import Notification, PushSubscription
from storage.notifications import notification_dicts


def subscription_dict(row: PushSubscription) -> dict[str, Any]:
    return {"id": row.id, "endpoint": row.endpoint, "created_at": row.created_at}


def subscribe(user_id: str, endpoint: str, p256dh: str, auth: str) -> dict[str, Any]:
    """Store the browser's subscription (a browser subscribing again replaces its old one)."""
    with unit_of_work():
        PushSubscription.delete().where(PushSubscription.endpoint == endpoint).execute()
        return subscription_dict(PushSubscription.create(user=user_id, endpoint=endpoint, p256dh=p256dh, auth=auth))


def unsubscribe(user_id: str, subscription_id: str) -> None:
    with unit_of_work():
        removed = (PushSubscription.delete()
                   .where((PushSubscription.id == subscription_id) & (PushSubscription.user == user_id)).execute())
    if not removed:
        raise NotFound("push subscription not found")


def forget(endpoint: str) -> None:
    """The push service says the subscription is gone (404 or 410)."""
    with unit_of_work():
        PushSubscription.delete().where(PushSubscription.endpoint == endpoint).execute()


def _pushable(after: Cursor) -> peewee.Expression:
    subscribed = PushSubscription.select(PushSubscription.user)
    return (((Notification.created_at > after.at)
             | ((Notification.created_at == after.at) & (Notification.id > after.after_id)))
            & Notification.kind.in_(KINDS) & Notification.read_at.is_null() & Notification.user.in_(subscribed))


def pending(after: Cursor, until: datetime,
            limit: int = 500) -> list[tuple[str, dict[str, Any], list[PushSubscription]]]:
    """The notifications to push after ``after`` and created at ``until`` or before, oldest first:
    (user id, notification object, their subscriptions)."""
    with reading():
        rows = list(Notification.select().where(_pushable(after) & (Notification.created_at <= until))
                    .order_by(Notification.created_at, Notification.id).limit(limit))
        if not rows:
            return []
        subscriptions: dict[str, list[PushSubscription]] = {}
        for sub in PushSubscription.select().where(PushSubscription.user.in_({n.user_id for n in rows})):
            subscriptions.setdefault(sub.user_id, []).append(sub)
        return [(row.user_id, body, subscriptions.get(row.user_id, []))
                for row, body in zip(rows, notification_dicts(rows))]


def count_pending(after: Cursor, before: datetime) -> int:
    """How many notifications to push after ``after`` were created before ``before``."""
    with reading():
        return Notification.select().where(_pushable(after) & (Notification.created_at < before)).count()
