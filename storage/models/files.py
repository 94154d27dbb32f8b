"""Uploaded files (their bytes are blobs named by SHA-256) and the rooms each was shared in; and the blobs
themselves when they live in PostgreSQL (``files.backend = postgresql``), in chunks."""
from __future__ import annotations

import peewee

from storage.models.accounts import User
from storage.models.base import BaseModel, new_id, utcnow
from storage.models.chat import Room

class UploadedFile(BaseModel):
    id = peewee.CharField(max_length=36, primary_key=True, default=new_id)
    uploader = peewee.ForeignKeyField(User, on_delete="CASCADE", index=True)
    file_name = peewee.CharField(max_length=255)
    content_type = peewee.CharField(max_length=100)  # the verified type, as served
    file_size = peewee.BigIntegerField()
    sha256 = peewee.CharField(max_length=64, index=True)  # the blob
    thumbnail_sha256 = peewee.CharField(max_length=64, null=True)  # the thumbnail's blob (images)
    created_at = peewee.DateTimeField(default=utcnow)


class FileShare(BaseModel):
    """A room where a message attached the file: its members may read it."""
    file = peewee.ForeignKeyField(UploadedFile, on_delete="CASCADE")
    room = peewee.ForeignKeyField(Room, on_delete="CASCADE", index=True)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        primary_key = peewee.CompositeKey("file", "room")


class Blob(BaseModel):
    sha256 = peewee.CharField(max_length=64, primary_key=True)
    size = peewee.BigIntegerField()
    touched_at = peewee.DoubleField(index=True)  # epoch seconds: stored, or stored again


class BlobChunk(BaseModel):
    sha256 = peewee.CharField(max_length=64)
    seq = peewee.IntegerField()
    data = peewee.BlobField()

    class Meta:
        primary_key = peewee.CompositeKey("sha256", "seq")
