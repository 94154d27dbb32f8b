"""Messages of the document actor, and the subscriber a socket registers with it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from domain import yjs_sync


def _never() -> bool:
    return False


@dataclass(frozen=True)
class Subscriber:
    """A socket following the document: ``send`` queues a frame in its outbox (binary for Yjs peers,
    JSON text for /ws sessions) and never waits; ``busy`` tells whether the client is not keeping up."""
    peer_id: str
    user_id: str
    role: str
    kind: str  # "yjs" | "json"
    send: Callable[[Any], bool]
    close: Callable[[int, str], None]
    busy: Callable[[], bool] = _never


@dataclass(frozen=True)
class Join:
    subscriber: Subscriber


@dataclass(frozen=True)
class Leave:
    peer_id: str


@dataclass(frozen=True)
class YjsIn:
    peer_id: str
    message: yjs_sync.Message
    received_at: float


@dataclass(frozen=True)
class Edit:
    peer_id: str
    ops: list
    received_at: float


@dataclass(frozen=True)
class CurrentText:
    """Ask: ``(version, text)`` as the actor holds them now."""


@dataclass(frozen=True)
class Restore:
    """Ask: apply ``ops`` (the difference to an older version's text, computed off the actor) as one new
    update, if the document is still at ``base_version``; None when it moved meanwhile (compute again)."""
    user_id: str
    ops: list
    base_version: int


@dataclass(frozen=True)
class PresenceUpdate:
    peer_id: str
    state: dict | None


@dataclass(frozen=True)
class AccessChanged:
    user_id: str
    role: str | None  # None: no access any more


@dataclass(frozen=True)
class Deleted:
    pass


@dataclass(frozen=True)
class RemoteUpdates:
    """Updates another instance stored (or the log holds and this actor missed): ``(version, author_id, update)``."""
    origin: str
    updates: list[tuple[int, str, bytes]]


@dataclass(frozen=True)
class RemoteAwareness:
    """An awareness payload from a peer on another instance."""
    origin: str
    user_id: str | None
    payload: bytes
