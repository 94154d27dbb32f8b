"""What travels on the chat topics, as bytes: commands on ``chat.commands``, events on ``chat.events``.

An event is one JSON header line and the client frame, already encoded: the fan-out reads the header
(room, seq, control action) and sends the frame text unchanged to every member session, so a broadcast
is encoded once, by the writer, whatever the number of recipients.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain import jsonfmt, ws_protocol

#: control actions the fan-out applies before (or instead of) delivering the frame
UNSUBSCRIBE_USER = "unsubscribe_user"  # a member was removed or left: stop delivering to them at once
DROP_ROOM = "drop_room"  # the room was deleted
TO_USER = "to_user"  # deliver the frame to every socket of user_id (notifications), not to the room


@dataclass(frozen=True)
class Event:
    room_id: str
    seq: int | None  # the message seq for new_message (the join seam dedupes on it), else None
    frame: bytes | None  # encoded client frame, or None for a pure control event
    control: str | None = None
    user_id: str | None = None  # the subject of a control action


def encode_event(event: Event) -> bytes:
    header = {"r": event.room_id, "s": event.seq, "c": event.control, "u": event.user_id}
    return jsonfmt.dumpb(header) + b"\n" + (event.frame or b"")


def decode_event(value: bytes) -> Event:
    head, _, frame = value.partition(b"\n")
    header = jsonfmt.loads(head)
    return Event(header["r"], header["s"], frame or None, header["c"], header["u"])


def frame_event(room_id: str, frame: dict[str, Any], seq: int | None = None, **control: Any) -> Event:
    return Event(room_id, seq, ws_protocol.encode(frame), **control)


def encode_command(command: dict[str, Any]) -> bytes:
    return jsonfmt.dumpb(command)


def decode_command(value: bytes) -> dict[str, Any]:
    command = jsonfmt.loads(value)
    if not isinstance(command, dict) or "op" not in command or "cid" not in command:
        raise ValueError("not a chat command")
    return command
