"""E-mail digests: the unread mentions, DMs and replies of people who have been away a while.

A user is due when they have not opted out, are active (not a bot, suspended or deleted), have had no
socket open since ``away_since`` (``last_seen``, or their sign-up when they never had one) and hold
unread notifications newer than what their last digest covered. Each digest moves ``digest_sent_at``
forward, so a notification is sent at most once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import peewee

from storage.db import reading, unit_of_work
from storage.models import Notification, Room, User

KINDS = ("mention", "dm", "reply")
MOST_ITEMS = 20  # the rest is counted, not quoted


@dataclass(frozen=True)
class DigestItem:
    kind: str
    room_name: str
    actor: str
    snippet: str
    created_at: datetime


@dataclass(frozen=True)
class Digest:
    user_id: str
    email: str
    display_name: str
    items: list[DigestItem]
    total: int
    through: datetime  # the newest notification covered


def _unread_since(since: peewee.Node) -> peewee.Expression:
    return (Notification.read_at.is_null() & Notification.kind.in_(KINDS) & (Notification.created_at > since))


def due(away_since: datetime, online: set[str], limit: int = 100) -> list[Digest]:
    """Up to ``limit`` digests to send now; users in ``online`` (a socket open anywhere) are skipped."""
    epoch = datetime(1970, 1, 1)
    covered = peewee.fn.COALESCE(User.digest_sent_at, epoch)
    pending = Notification.select(Notification.id).where((Notification.user == User.id) & _unread_since(covered))
    query = (User.select().where(
        User.digest_opted_out_at.is_null() & User.suspended_at.is_null() & User.deactivated_at.is_null()
        & (peewee.fn.COALESCE(User.last_seen, User.created_at) <= away_since) & peewee.fn.EXISTS(pending))
        .order_by(User.id).limit(limit))
    digests = []
    with reading():
        for user in query:
            if user.id not in online and not user.is_bot:
                digests.append(_digest(user, user.digest_sent_at or epoch))
    return digests


def _digest(user: User, covered: datetime) -> Digest:
    actor = User.alias()
    rows = list(Notification.select(Notification, Room.name, Room.kind.alias("room_kind"), actor.username)
                .join(Room, peewee.JOIN.LEFT_OUTER, on=(Notification.room == Room.id))
                .switch(Notification).join(actor, peewee.JOIN.LEFT_OUTER, on=(Notification.actor == actor.id))
                .where((Notification.user == user.id) & _unread_since(covered))
                .order_by(Notification.created_at.desc()).objects())
    items = [DigestItem(n.kind, "a direct message" if n.room_kind == "dm" else f"#{n.name}", n.username or "someone",
                        n.snippet, n.created_at)
             for n in rows[:MOST_ITEMS]]
    return Digest(user.id, user.email, user.display_name, items, len(rows), rows[0].created_at)


def mark_sent(user_id: str, through: datetime) -> None:
    with unit_of_work():
        User.update(digest_sent_at=through).where(User.id == user_id).execute()


def set_opted_out(user_id: str, opted_out_at: datetime | None) -> None:
    with unit_of_work():
        User.update(digest_opted_out_at=opted_out_at).where(User.id == user_id).execute()
