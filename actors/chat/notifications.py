"""Who is notified of new messages, and the live ``notification`` frames for them.

A message notifies: the other member of a DM (``dm``), every member of the room it ``@mentions``
(``mention``), and the author of the message it replies to if still a member (``reply``); never its
sender, and one notification per user and message (dm > mention > reply). Only members can read a
room, so only members are notified. An edit that adds a mention notifies the newly mentioned
members. Both run inside the chat writer's transaction: the rows commit with the messages, and the
frames go out on ``chat.events`` after the commit like any event.
"""
from __future__ import annotations

import re
from typing import Any

from domain import ws_protocol
from domain.chat_events import TO_USER, Event
from storage import notifications as store
from storage.account_names import username_key

#: ``@name`` not preceded by a word character (so ``ana@example.com`` mentions nobody)
MENTION = re.compile(r"(?<!\w)@([A-Za-z0-9_.-]{3,32})")


def mentions(text: str) -> set[str]:
    """Usernames ``text`` mentions; a trailing dot or dash (end of a sentence) also tries the name without it."""
    names: set[str] = set()
    for name in MENTION.findall(text):
        names.add(name)
        trimmed = name.rstrip(".-")
        if len(trimmed) >= 3:
            names.add(trimmed)
    return names


def recipients(message: dict[str, Any], audience: store.Audience) -> dict[str, str]:
    """user id → kind of the notification ``message`` gives them."""
    room, sender = message["room_id"], message["user"]["id"]
    found: dict[str, str] = {}
    for user_id in audience.dm_members.get(room, []):
        found[user_id] = "dm"
    for name in mentions(message["content"]):
        user_id = audience.user_ids.get(username_key(name))
        if user_id is not None and (room, user_id) in audience.readers:
            found.setdefault(user_id, "mention")
    author = audience.authors.get(message.get("reply_to_id") or "")
    if author is not None and (room, author) in audience.readers:
        found.setdefault(author, "reply")
    found.pop(sender, None)
    return found


def notify(messages: list[dict[str, Any]]) -> dict[str, list[Event]]:
    """Store the notifications of new ``messages`` (inside the caller's transaction); message id → the
    ``TO_USER`` events that deliver them live, keyed by the message's room so they follow its ``new_message``."""
    if not messages:
        return {}
    audience = store.audience(messages, set().union(*(mentions(m["content"]) for m in messages)))
    return _store([(m, user_id, kind) for m in messages for user_id, kind in recipients(m, audience).items()])


def notify_edit(message: dict[str, Any]) -> list[Event]:
    """After an edit (inside its transaction): notify the members it now mentions who have no
    notification for this message yet; the events that deliver them."""
    names = mentions(message["content"])
    if not names:
        return []
    found = [user_id for user_id, kind in recipients(message, store.audience([message], names)).items()
             if kind == "mention"]
    fresh = sorted(set(found) - store.notified(message["id"], found))
    return _store([(message, user_id, "mention") for user_id in fresh]).get(message["id"], [])


def _store(wanted: list[tuple[dict[str, Any], str, str]]) -> dict[str, list[Event]]:
    """Insert a notification per (message, user, kind); message id → the live events."""
    rows = [{"user": user_id, "kind": kind, "room": m["room_id"], "message": m["id"], "actor": m["user"]["id"],
             "snippet": store.snippet(m["content"])} for m, user_id, kind in wanted]
    events: dict[str, list[Event]] = {}
    for row, notification in zip(rows, store.insert(rows)):
        events.setdefault(row["message"], []).append(live_event(row["room"], row["user"], notification))
    return events


def live_event(key: str, user_id: str, notification: dict[str, Any]) -> Event:
    """The ``chat.events`` record that sends ``notification`` to every socket of ``user_id``."""
    frame = ws_protocol.encode({"type": "notification", "notification": notification})
    return Event(key, None, frame, TO_USER, user_id)
