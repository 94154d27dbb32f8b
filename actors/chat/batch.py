"""One group commit: many chat commands applied in one storage transaction.

Edits, deletes, reactions and reads apply in arrival order, then the joins, then the sends (each in
arrival order too): no command can refer to a message of its own batch, since its id is only known from
the ack.

Sends get their seqs in one counter update for all rooms; a command that is refused (not a member, no
such message) is answered with its error and leaves nothing in the transaction, because every check
runs before its writes. Results are computed inside the transaction and released only after it commits.
The webhook deliveries of the batch's events are stored in the same transaction (one query finds the
webhooks of all its rooms), so every acknowledged event reaches its webhooks even if its
``chat.events`` record is lost.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import peewee

from actors.chat.notifications import notify, notify_edit
from actors.chat.webhooks import enqueue_deliveries
from domain.chat_events import Event, frame_event
from domain import logs
from domain.errors import BadRequest, Conflict, DomainError
from storage import chat as rooms
from storage import chat_messages as messages
from storage import files
from storage.db import probe_write, unit_of_work

log = logging.getLogger("confab.chat")


@dataclass
class Outcome:
    """What one command produced: the sender's reply body (or error) and the events to publish."""
    reply: dict[str, Any] | None = None
    error: DomainError | None = None
    events: list[Event] = field(default_factory=list)
    created: bool = False


def apply_batch(commands: list[dict[str, Any]]) -> list[Outcome]:
    """Apply ``commands`` in one transaction. If the database refuses the batch for one command's sake
    (a unique key another instance won meanwhile, a value the database cannot store), the batch is
    applied again with each command in a savepoint of its own, so that command fails alone. A storage
    failure (``OperationalError``: disk, lock, connection) fails the whole batch: the caller answers it."""
    try:
        with unit_of_work():
            return _apply(commands)
    except (peewee.IntegrityError, peewee.DataError, peewee.ProgrammingError) as exc:
        logs.event(log, "chat.batch_isolated", logging.WARNING, commands=len(commands), error=_first_line(exc))
        return _apply_isolated(commands)


def _apply_isolated(commands: list[dict[str, Any]]) -> list[Outcome]:
    outcomes = []
    with unit_of_work() as db:
        for command in commands:
            try:
                with db.atomic():  # a savepoint
                    outcomes += _apply([command])
            except (peewee.IntegrityError, peewee.DataError, peewee.ProgrammingError) as exc:
                logs.event(log, "chat.command_refused_by_storage", logging.WARNING, op=command.get("op"),
                           request_id=command.get("rid"), error=_first_line(exc))
                error = BadRequest("the database refused a value of this command") \
                    if isinstance(exc, peewee.DataError) else Conflict("conflicts with stored data; retry")
                outcomes.append(Outcome(error=error))
    return outcomes


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def _apply(commands: list[dict[str, Any]]) -> list[Outcome]:
    """The batch's statements, inside the caller's transaction."""
    outcomes = [Outcome() for _ in commands]
    sends: list[int] = []
    joins: list[int] = []
    for index, command in enumerate(commands):
        if command["op"] in ("send", "join"):
            (sends if command["op"] == "send" else joins).append(index)
            continue
        try:
            outcomes[index] = _OPS[command["op"]](command)
        except DomainError as exc:
            outcomes[index] = Outcome(error=exc)
    if joins:
        _join(commands, joins, outcomes)
    if sends:
        _append(commands, sends, outcomes)
    enqueue_deliveries(event for outcome in outcomes for event in outcome.events)
    return outcomes


def _append(commands: list[dict[str, Any]], indexes: list[int], outcomes: list[Outcome]) -> None:
    """Sends: access and duplicates checked for the whole batch in a query each, then one counter
    update for all rooms and one insert per 200 messages."""
    keys = {(commands[i]["room_id"], commands[i]["user_id"], commands[i]["client_msg_id"]) for i in indexes}
    access = rooms.send_access({(room, user) for room, user, _ in keys})
    stored = messages.find_duplicates(keys)
    rows: list[dict[str, Any]] = []
    row_of: dict[int, int] = {}  # command index → its new row
    existing: dict[int, Any] = {}  # command index → the stored message it duplicates
    seen: dict[tuple[str, str, str], int] = {}  # key → first command index in this batch
    dup_of: dict[int, int] = {}  # a repeat inside this batch → the first command index
    counts: dict[str, int] = {}
    for index in indexes:
        c = commands[index]
        key = (c["room_id"], c["user_id"], c["client_msg_id"])
        if key in seen:
            dup_of[index] = seen[key]
            continue
        try:
            denied = access[key[:2]]
            if denied is not None:
                raise denied
            duplicate = stored.get(key)
            root = None if duplicate else messages.thread_root_of(c["room_id"], c.get("reply_to_id"))
            attached = [] if duplicate else files.attachments_for(c["user_id"], c.get("attachments") or [])
        except DomainError as exc:
            outcomes[index] = Outcome(error=exc)
            continue
        seen[key] = index
        if duplicate is not None:
            existing[index] = duplicate
            continue
        counts[c["room_id"]] = counts.get(c["room_id"], 0) + 1
        row_of[index] = len(rows)
        rows.append({"room": c["room_id"], "user": c["user_id"], "content": c["content"],
                     "client_msg_id": c["client_msg_id"], "reply_to_id": c.get("reply_to_id"),
                     "thread_root_id": root, "attachments": json.dumps(attached),
                     "display_name": c.get("display_name")})
    first = messages.reserve_seqs(counts)
    for row in rows:
        row["seq"] = first[row["room"]]
        first[row["room"]] += 1
    created = messages.insert_messages(rows)
    files.record_shares(rows)
    stored = {d["id"]: d for d in messages.message_dicts(list(existing.values()))}
    notified = notify(created)  # stored in this transaction, sent after the commit
    for index, row in row_of.items():
        message = created[row]
        event = frame_event(message["room_id"], {"type": "new_message", "message": message}, message["seq"])
        outcomes[index] = Outcome(reply={"message": message}, events=[event, *notified.get(message["id"], [])],
                                  created=True)
    for index, duplicate in existing.items():
        outcomes[index] = Outcome(reply={"message": stored[duplicate.id]})
    for index, original in dup_of.items():
        outcomes[index] = Outcome(reply=outcomes[original].reply, error=outcomes[original].error)


def _edit(c: dict[str, Any]) -> Outcome:
    message = messages.message_dicts([messages.edit_message(c["user_id"], c["message_id"], c["content"])])[0]
    frame = {"type": "message_edited", "room_id": message["room_id"], "message_id": message["id"],
             "new_content": message["content"], "edited_at": message["updated_at"], "message": message}
    return Outcome(reply={"message": message}, events=[frame_event(message["room_id"], frame), *notify_edit(message)])


def _delete(c: dict[str, Any]) -> Outcome:
    deleted = messages.delete_message(c["user_id"], c["message_id"], request_id=c.get("rid"), client_ip=c.get("ip"))
    message = messages.message_dicts([deleted])[0]
    frame = {"type": "message_deleted", "room_id": message["room_id"], "message_id": message["id"],
             "message": message}
    return Outcome(reply={"message": message}, events=[frame_event(message["room_id"], frame)])


def _react(c: dict[str, Any]) -> Outcome:
    row, changed = messages.set_reaction(c["user_id"], c["message_id"], c["emoji"], c["present"])
    message = messages.message_dicts([row])[0]
    frame = {"type": "reaction_added" if c["present"] else "reaction_removed", "room_id": message["room_id"],
             "message_id": message["id"], "user_id": c["user_id"], "emoji": c["emoji"]}
    return Outcome(reply={"message": message}, events=[frame_event(message["room_id"], frame)] if changed else [])


def _read(c: dict[str, Any]) -> Outcome:
    seq, moved = rooms.mark_read(c["user_id"], c["room_id"], c["seq"])
    frame = {"type": "read_receipt", "room_id": c["room_id"], "user_id": c["user_id"], "seq": seq}
    return Outcome(reply={"room_id": c["room_id"], "seq": seq},
                   events=[frame_event(c["room_id"], frame)] if moved else [])  # nothing new: nobody is told


def _join(commands: list[dict[str, Any]], indexes: list[int], outcomes: list[Outcome]) -> None:
    """Joins, all at once (``storage.chat.join_rooms``); a new member's join tells the room."""
    joined = rooms.join_rooms([(commands[i]["user_id"], commands[i]["room_id"]) for i in indexes])
    for index, result in zip(indexes, joined):
        if isinstance(result, DomainError):
            outcomes[index] = Outcome(error=result)
            continue
        c, (room, newly) = commands[index], result
        frame = {"type": "user_joined", "room_id": c["room_id"], "user": {"id": c["user_id"], "username": c["username"]}}
        outcomes[index] = Outcome(reply={"room": room, "newly": newly},
                                  events=[frame_event(c["room_id"], frame)] if newly else [])


def _probe(_c: dict[str, Any]) -> Outcome:
    """A write that changes nothing: can storage commit again? (``actors.chat.writer``)"""
    probe_write()
    return Outcome()


_OPS = {"edit": _edit, "delete": _delete, "react": _react, "read": _read, "probe": _probe}
