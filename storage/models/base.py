"""What every model shares: the database proxy they are bound to, ids (UUID strings), UTC times, and
the table of applied migrations."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import peewee

from storage.db import database


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False


class SchemaVersion(BaseModel):
    version = peewee.IntegerField(primary_key=True)
    name = peewee.CharField(max_length=200)
    applied_at = peewee.DateTimeField(default=utcnow)
