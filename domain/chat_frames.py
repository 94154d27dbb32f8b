"""The chat frames of the /ws protocol (docs/protocol.md): their schemas, by frame type."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from domain.input_fields import Int64, Text

ID = {"required": True, "validate": validate.Length(min=1, max=64)}
EMOJI = {"required": True, "validate": validate.Length(min=1, max=64)}
FILE_ID = validate.Regexp(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
                          error="not a file id")


class StrictBoolean(fields.Boolean):
    """JSON ``true``/``false`` only (marshmallow's Boolean accepts 1, "yes", "on"...)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class _Frame(Schema):
    type = fields.String()
    ref = fields.Raw()


class JoinRoomFrame(_Frame):
    room_id = Text(**ID)
    since_seq = Int64(load_default=None, allow_none=True, strict=True, minimum=0)


class RoomFrame(_Frame):
    room_id = Text(**ID)


class MessageDraft(Schema):
    """A new message, as /ws ``send_message`` and REST ``POST /rooms/{id}/messages`` both take it."""
    content = Text(required=True)
    reply_to_id = Text(load_default=None, allow_none=True, validate=validate.Length(max=64))
    attachments = fields.List(Text(validate=FILE_ID), load_default=list,
                              validate=validate.Length(max=10))

    @validates_schema
    def _says_something(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """A message is text, files, or both: ``content`` may be empty only with attachments."""
        if not data.get("content") and not data.get("attachments"):
            raise ValidationError("Shorter than minimum length 1.", "content")


class SendMessageFrame(_Frame, MessageDraft):
    room_id = Text(**ID)
    client_msg_id = Text(**ID)


class EditMessageFrame(_Frame):
    message_id = Text(**ID)
    new_content = Text(required=True, validate=validate.Length(min=1))


class MessageIdFrame(_Frame):
    message_id = Text(**ID)


class ReactionFrame(_Frame):
    message_id = Text(**ID)
    emoji = Text(**EMOJI)


class TypingFrame(_Frame):
    room_id = Text(**ID)
    is_typing = StrictBoolean(required=True)


class ReadFrame(_Frame):
    room_id = Text(**ID)
    seq = Int64(required=True, strict=True, minimum=0)


SCHEMAS: dict[str, Schema] = {
    "join_room": JoinRoomFrame(), "leave_room": RoomFrame(), "send_message": SendMessageFrame(),
    "edit_message": EditMessageFrame(), "delete_message": MessageIdFrame(), "add_reaction": ReactionFrame(),
    "remove_reaction": ReactionFrame(), "typing": TypingFrame(), "read": ReadFrame(),
}

