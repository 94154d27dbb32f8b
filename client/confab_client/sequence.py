"""Per-room ordering of a chat session, as pure logic: which messages to hand the caller, in which
order, and which range to fetch over REST first. Seqs are gapless per room, so a seq at or below the
last one handed out is a duplicate (a replay overlapping live delivery), and one beyond the next is a
hole (a truncated replay, or delivery lost while away) filled from the history before going on.
"""
from __future__ import annotations

from typing import Any, Callable

Message = dict[str, Any]
#: ``fetch(after_seq, before_seq)``: the stored messages strictly between the two, in seq order
Fetch = Callable[[int, int], list[Message]]


class RoomCursor:
    """``last_seq`` is the last seq handed out, or None while a join without ``since_seq`` is
    unanswered: messages then wait until ``settle`` says where the room stood at the join."""

    def __init__(self, last_seq: int | None = None) -> None:
        self.last_seq = last_seq
        self._held: list[Message] = []

    def offer(self, message: Message, fetch: Fetch) -> list[Message]:
        """What to hand out, in order, now that ``message`` arrived: nothing for a duplicate; the
        missing messages before it (fetched) and then it, for one that leaves a hole."""
        if self.last_seq is None:
            self._held.append(message)
            return []
        seq = message["seq"]
        if seq <= self.last_seq:
            return []
        missing = fetch(self.last_seq, seq) if seq > self.last_seq + 1 else []
        out = [m for m in missing if self.last_seq < m["seq"] < seq] + [message]
        self.last_seq = seq
        return out

    def settle(self, room_last_seq: int, fetch: Fetch) -> list[Message]:
        """The join was answered; ``room_last_seq`` is the room's seq then: the start when it was
        joined without ``since_seq``; otherwise every message up to it is due now, whatever the replay
        held back (a capped replay names its gap; none may have come at all). Releases what was held."""
        if self.last_seq is None:
            self.last_seq = room_last_seq
        out: list[Message] = []
        if self.last_seq < room_last_seq:
            out = [m for m in fetch(self.last_seq, room_last_seq + 1) if m["seq"] > self.last_seq]
            self.last_seq = max([self.last_seq] + [m["seq"] for m in out])
        held, self._held = sorted(self._held, key=lambda m: m["seq"]), []
        return out + [ready for message in held for ready in self.offer(message, fetch)]
