"""Webhooks: outgoing ones with their pending deliveries (an outbox that survives a restart), and incoming
ones (a secret URL that posts into a room as a bot)."""
from __future__ import annotations

import peewee

from storage.models.accounts import User
from storage.models.base import BaseModel, new_id, utcnow
from storage.models.chat import Room

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


class Webhook(BaseModel):
    id = peewee.CharField(max_length=36, primary_key=True, default=new_id)
    user = peewee.ForeignKeyField(User, on_delete="CASCADE", index=True)
    url = peewee.CharField(max_length=2048)
    events = peewee.TextField()  # JSON list of event names
    secret = peewee.CharField(max_length=80)
    is_active = peewee.BooleanField(default=True)
    failure_count = peewee.IntegerField(default=0)  # failed attempts in a row
    created_at = peewee.DateTimeField(default=utcnow)
    disabled_at = peewee.DateTimeField(null=True)


class WebhookDelivery(BaseModel):
    id = peewee.CharField(max_length=36, primary_key=True, default=new_id)
    webhook = peewee.ForeignKeyField(Webhook, on_delete="CASCADE")
    ordinal = peewee.BigIntegerField()  # order of delivery within the webhook
    source = peewee.CharField(max_length=80)  # the event's id: one per event, shared by its deliveries
    event = peewee.CharField(max_length=32)
    body = peewee.TextField()
    status = peewee.CharField(max_length=16, default=PENDING)
    attempts = peewee.IntegerField(default=0)
    next_attempt_at = peewee.DateTimeField(default=utcnow)
    last_status = peewee.IntegerField(null=True)  # HTTP status of the last attempt, null if none came back
    last_error = peewee.TextField(default="")
    created_at = peewee.DateTimeField(default=utcnow)
    finished_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = ((("webhook", "source"), True), (("status", "webhook", "ordinal"), False))


class IncomingWebhook(BaseModel):
    id = peewee.CharField(max_length=36, primary_key=True, default=new_id)
    room = peewee.ForeignKeyField(Room, on_delete="CASCADE", index=True)
    bot = peewee.ForeignKeyField(User, on_delete="CASCADE")
    created_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    name = peewee.CharField(max_length=64)
    secret_hash = peewee.CharField(max_length=64)
    created_at = peewee.DateTimeField(default=utcnow)
    revoked_at = peewee.DateTimeField(null=True)
