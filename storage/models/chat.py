"""Chat models: rooms (channels and DMs), members with roles and read state, messages, reactions.

``Room.last_seq`` is the room's sequence counter: a message's ``seq`` is taken from it inside the
storage transaction that inserts the message, so it is gapless and survives restarts and instances.
"""
from __future__ import annotations

import peewee

from storage.models.accounts import User
from storage.models.base import BaseModel, new_id, utcnow

ROLES = ("admin", "moderator", "member")


class Room(BaseModel):
    id = peewee.CharField(max_length=36, primary_key=True, default=new_id)
    kind = peewee.CharField(max_length=16, default="channel")  # channel | dm
    name = peewee.CharField(max_length=100)
    description = peewee.TextField(default="")
    is_private = peewee.BooleanField(default=False)
    dm_key = peewee.CharField(max_length=80, null=True, unique=True)  # "<lower id>:<higher id>" for a DM
    created_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)
    last_seq = peewee.BigIntegerField(default=0)
    last_activity_at = peewee.DateTimeField(default=utcnow, index=True)


class RoomMember(BaseModel):
    id = peewee.CharField(max_length=36, primary_key=True, default=new_id)
    room = peewee.ForeignKeyField(Room, backref="members", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, on_delete="CASCADE", index=True)
    role = peewee.CharField(max_length=16, default="member")
    joined_at = peewee.DateTimeField(default=utcnow)
    last_read_seq = peewee.BigIntegerField(default=0)

    class Meta:
        indexes = ((("room", "user"), True),)


class Message(BaseModel):
    id = peewee.CharField(max_length=36, primary_key=True, default=new_id)
    room = peewee.ForeignKeyField(Room, on_delete="CASCADE")
    seq = peewee.BigIntegerField()
    user = peewee.ForeignKeyField(User, on_delete="CASCADE")
    content = peewee.TextField()
    reply_to_id = peewee.CharField(max_length=36, null=True)
    thread_root_id = peewee.CharField(max_length=36, null=True, index=True)
    attachments = peewee.TextField(default="[]")  # JSON list of file ids
    client_msg_id = peewee.CharField(max_length=64, null=True)
    display_name = peewee.CharField(max_length=64, null=True)  # the author's name on this message only
    is_edited = peewee.BooleanField(default=False)
    is_deleted = peewee.BooleanField(default=False)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("room", "seq"), True), (("room", "user", "client_msg_id"), True))


class Reaction(BaseModel):
    id = peewee.CharField(max_length=36, primary_key=True, default=new_id)
    message = peewee.ForeignKeyField(Message, on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, on_delete="CASCADE")
    emoji = peewee.CharField(max_length=64)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("message", "user", "emoji"), True),)
