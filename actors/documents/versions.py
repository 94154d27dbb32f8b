"""Which versions of a document's update log one actor's in-memory ``Doc`` holds.

With several instances, versions are handed out by the database to whichever instance appends
first, so an actor learns them out of order: its own appends at once, another instance's over the
``doc.updates`` stream a moment later. ``contiguous`` is the highest version v such that every
update 1..v is applied; ``ahead`` holds the versions applied above a gap. A snapshot is labelled
with a version, and history ("content at version v") trusts it to contain exactly 1..v, so an actor
may snapshot only while nothing is ahead.
"""
from __future__ import annotations


class HeldVersions:
    def __init__(self, loaded: int) -> None:
        self.contiguous = loaded
        self.ahead: set[int] = set()

    @property
    def latest(self) -> int:
        return max(self.ahead, default=self.contiguous)

    @property
    def exact(self) -> bool:
        """Memory is exactly versions 1..contiguous (nothing newer is mixed in)."""
        return not self.ahead

    def holds(self, version: int) -> bool:
        return version <= self.contiguous or version in self.ahead

    def add(self, version: int) -> None:
        if self.holds(version):
            return
        self.ahead.add(version)
        while self.contiguous + 1 in self.ahead:
            self.contiguous += 1
            self.ahead.remove(self.contiguous)

    def gap(self) -> tuple[int, int] | None:
        """``(after, up_to)``: the stored versions to read to close every gap, if there is one."""
        return (self.contiguous, max(self.ahead)) if self.ahead else None
