"""The PostgreSQL backend of the blob store (``files.backend = postgresql``): the blobs of a cluster, which
every instance reads whichever one stored them.

A blob is a ``blob`` row (digest, size, when last stored or reused) over ``blob_chunk`` rows of
``CHUNK_BYTES`` each. Bytes move in and out one chunk at a time, so no file is ever held whole in
memory: an upload is copied from its scratch file chunk by chunk, inside one transaction that inserts
the ``blob`` row last (a visible blob has all its chunks; two instances storing the same bytes at once
store them once), and a download reads the chunk its position falls in, on demand (so range requests
read only what they serve).

Collection: ``bury`` only picks the blobs still untouched since the cutoff, and ``settle`` deletes them in
one statement that checks the cutoff again, so an upload that reused a blob meanwhile (its touch waits
for the delete's row lock, then finds no row and stores the bytes again) never loses it.
psycopg waits cooperatively under gevent, so these queries run on the hub.
"""
from __future__ import annotations

import time
from typing import IO, Iterable

from storage.blob_store import BlobStore, PendingBlob, checked_digest
from storage.db import reading, unit_of_work
from storage.models import Blob, BlobChunk

CHUNK_BYTES = 256 * 1024


class PostgresBlobStore(BlobStore):
    def exists(self, sha256: str) -> bool:
        with reading():
            return Blob.select().where(Blob.sha256 == checked_digest(sha256)).exists()

    def open(self, sha256: str) -> tuple[IO[bytes], int]:
        with reading():
            size = Blob.select(Blob.size).where(Blob.sha256 == checked_digest(sha256)).scalar()
        if size is None:
            raise FileNotFoundError(sha256)
        return ChunkReader(sha256, size), size  # type: ignore[return-value]  # read/seek/tell/close suffice

    def keep(self, pending: PendingBlob) -> None:
        digest, now = pending.sha256, time.time()
        pending.handle.close()
        with unit_of_work():
            if Blob.update(touched_at=now).where(Blob.sha256 == digest).execute():
                return  # already stored: reused, so the collector leaves it alone
        with unit_of_work(), open(pending.temp_path, "rb") as source:
            for seq, data in enumerate(iter(lambda: source.read(CHUNK_BYTES), b"")):
                BlobChunk.insert(sha256=digest, seq=seq, data=data).on_conflict_ignore().execute()
            Blob.insert(sha256=digest, size=pending.size, touched_at=now).on_conflict(
                conflict_target=[Blob.sha256], update={Blob.touched_at: now}).execute()

    def old_blobs(self, cutoff: float) -> list[str]:
        with reading():
            return [digest for (digest,) in Blob.select(Blob.sha256).where(Blob.touched_at < cutoff).tuples()]

    def bury(self, digests: Iterable[str], cutoff: float) -> list[str]:
        wanted = list(digests)
        if not wanted:
            return []
        with reading():
            return [digest for (digest,) in Blob.select(Blob.sha256).where(
                Blob.sha256.in_(wanted) & (Blob.touched_at < cutoff)).tuples()]

    def settle(self, buried: Iterable[str], keep: set[str], cutoff: float) -> int:
        doomed = [digest for digest in buried if digest not in keep]
        if not doomed:
            return 0
        with unit_of_work():
            gone = [row.sha256 for row in Blob.delete().where(
                Blob.sha256.in_(doomed) & (Blob.touched_at < cutoff)).returning(Blob.sha256).execute()]
            if gone:
                BlobChunk.delete().where(BlobChunk.sha256.in_(gone)).execute()
        return len(gone)


class ChunkReader:
    """A seekable reader over one blob's chunks, loading the chunk the position falls in when needed."""

    def __init__(self, sha256: str, size: int) -> None:
        self.sha256, self.size = sha256, size
        self._pos = 0
        self._chunk_seq, self._chunk = -1, b""
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        if self._pos >= self.size:
            return b""
        seq, offset = divmod(self._pos, CHUNK_BYTES)
        if seq != self._chunk_seq:
            with reading():
                self._chunk = BlobChunk.select(BlobChunk.data).where(
                    (BlobChunk.sha256 == self.sha256) & (BlobChunk.seq == seq)).scalar()
            if self._chunk is None:
                raise FileNotFoundError(f"{self.sha256}: chunk {seq} missing")
            self._chunk, self._chunk_seq = bytes(self._chunk), seq
        end = len(self._chunk) if size < 0 else min(len(self._chunk), offset + size)
        data = self._chunk[offset:end]
        self._pos += len(data)
        return data

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self.closed = True
        self._chunk = b""
