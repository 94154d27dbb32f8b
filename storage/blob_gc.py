"""Garbage collection of blobs: a singleton job deletes the blobs no uploaded file (nor its thumbnail)
refers to any more, and temporary files left by uploads a crash cut off.

A blob is only a candidate once untouched for ``GRACE_S`` (an upload writes or touches its blob before
recording the file), and the database is asked twice: before the blob is moved aside and after.
"""
from __future__ import annotations

import logging
import time

from domain import logs
from storage.blob_store import BlobStore
from storage.db import reading
from storage.models import UploadedFile

log = logging.getLogger("confab.files")

GRACE_S = 3600.0
ABANDONED_UPLOAD_S = 24 * 3600.0
BATCH = 500


def in_use(digests: list[str]) -> set[str]:
    """Which of ``digests`` an uploaded file refers to, as its bytes or its thumbnail."""
    wanted = set(digests)
    if not wanted:
        return set()
    with reading():
        rows = UploadedFile.select(UploadedFile.sha256, UploadedFile.thumbnail_sha256).where(
            UploadedFile.sha256.in_(wanted) | UploadedFile.thumbnail_sha256.in_(wanted)).tuples()
        return {digest for row in rows for digest in row if digest in wanted}


class BlobCollector:
    def __init__(self, store: BlobStore, grace_s: float = GRACE_S) -> None:
        self.store, self.grace_s = store, grace_s

    def run(self) -> int:
        """One pass; returns how many blobs were deleted (and logs it when any were)."""
        now = time.time()
        cutoff = now - self.grace_s
        dropped = self.store.drop_abandoned(now - ABANDONED_UPLOAD_S)
        candidates = self.store.old_blobs(cutoff)
        deleted = 0
        for start in range(0, len(candidates), BATCH):
            chunk = candidates[start:start + BATCH]
            used = in_use(chunk)
            buried = self.store.bury([d for d in chunk if d not in used], cutoff)
            deleted += self.store.settle(buried, in_use(buried), cutoff)
        if deleted or dropped:
            logs.event(log, "files.collected", blobs=deleted, abandoned_uploads=dropped, examined=len(candidates))
        return deleted
