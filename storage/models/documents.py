"""Document models: metadata, shares, the append-only update log and snapshots."""
from __future__ import annotations

import peewee

from storage.models.accounts import User
from storage.models.base import BaseModel, new_id, utcnow

class Document(BaseModel):
    id = peewee.CharField(max_length=36, primary_key=True, default=new_id)
    title = peewee.CharField(max_length=200)
    owner = peewee.ForeignKeyField(User, backref="documents", on_delete="CASCADE")
    version = peewee.BigIntegerField(default=0)
    created_at = peewee.DateTimeField(default=utcnow, index=True)
    updated_at = peewee.DateTimeField(default=utcnow)


class DocumentShare(BaseModel):
    document = peewee.ForeignKeyField(Document, backref="shares", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, backref="document_shares", on_delete="CASCADE")
    role = peewee.CharField(max_length=8)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        primary_key = peewee.CompositeKey("document", "user")


class DocumentUpdate(BaseModel):
    document = peewee.ForeignKeyField(Document, backref="updates", on_delete="CASCADE")
    version = peewee.BigIntegerField()
    author_id = peewee.CharField(max_length=36)
    data = peewee.BlobField()
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        primary_key = peewee.CompositeKey("document", "version")


class DocumentSnapshot(BaseModel):
    document = peewee.ForeignKeyField(Document, backref="snapshots", on_delete="CASCADE")
    version = peewee.BigIntegerField()
    state = peewee.BlobField()
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        primary_key = peewee.CompositeKey("document", "version")
