"""Notifications: a mention, a DM or a reply to someone (and a disabled webhook), stored per user; and the
Web Push subscriptions that carry them to people who are away."""
from __future__ import annotations

import peewee

from storage.models.accounts import User
from storage.models.base import BaseModel, new_id, utcnow
from storage.models.chat import Message, Room

class Notification(BaseModel):
    id = peewee.CharField(max_length=36, primary_key=True, default=new_id)
    user = peewee.ForeignKeyField(User, on_delete="CASCADE", backref="+")
    kind = peewee.CharField(max_length=24)
    room = peewee.ForeignKeyField(Room, null=True, on_delete="CASCADE", backref="+")
    message = peewee.ForeignKeyField(Message, null=True, on_delete="CASCADE", backref="+")
    actor = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    snippet = peewee.TextField(default="")
    created_at = peewee.DateTimeField(default=utcnow)
    read_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = ((("user", "message"), True), (("user", "created_at"), False))


class PushSubscription(BaseModel):
    id = peewee.CharField(max_length=36, primary_key=True, default=new_id)
    user = peewee.ForeignKeyField(User, on_delete="CASCADE", index=True, backref="+")
    endpoint = peewee.CharField(max_length=2048, unique=True)
    p256dh = peewee.CharField(max_length=200)
    auth = peewee.CharField(max_length=64)
    created_at = peewee.DateTimeField(default=utcnow)
