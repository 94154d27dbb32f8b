"""The chat frames of the /ws protocol (docs/protocol.md): their schemas, registered with ``ws_protocol``."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from domain import ws_protocol

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
    room_id = fields.String(**ID)
    since_seq = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(min=0))


class RoomFrame(_Frame):
    room_id = fields.String(**ID)


class MessageDraft(Schema):
    """A new message, as /ws ``send_message`` and REST ``POST /rooms/{id}/messages`` both take it."""
    content = fields.String(required=True)
    reply_to_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    attachments = fields.List(fields.String(validate=FILE_ID), load_default=list,
                              validate=validate.Length(max=10))

    @validates_schema
    def _says_something(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """A message is text, files, or both: ``content`` may be empty only with attachments."""
        if not data.get("content") and not data.get("attachments"):
            raise ValidationError("Shorter than minimum length 1.", "content")


class SendMessageFrame(_Frame, MessageDraft):
    room_id = fields.String(**ID)
    client_msg_id = fields.String(**ID)


class EditMessageFrame(_Frame):
    message_id = fields.String(**ID)
    new_content = fields.String(required=True, validate=validate.Length(min=1))


class MessageFrame(_Frame):
    message_id = fields.String(**ID)


class ReactionFrame(_Frame):
    message_id = fields.String(**ID)
    emoji = fields.String(**EMOJI)


class TypingFrame(_Frame):
    room_id = fields.String(**ID)
    is_typing = StrictBoolean(required=True)


class ReadFrame(_Frame):
    room_id = fields.String(**ID)
    seq = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))


SCHEMAS: dict[str, Schema] = {
    "join_room": JoinRoomFrame(), "leave_room": RoomFrame(), "send_message": SendMessageFrame(),
    "edit_message": EditMessageFrame(), "delete_message": MessageFrame(), "add_reaction": ReactionFrame(),
    "remove_reaction": ReactionFrame(), "typing": TypingFrame(), "read": ReadFrame(),
}


def register() -> None:
    for frame_type, schema in SCHEMAS.items():
        ws_protocol.register_frame(frame_type, schema)
