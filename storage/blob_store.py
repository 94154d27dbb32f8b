"""The blob store: content-addressed bytes, every blob named by the SHA-256 of its bytes.

Two backends behind one interface, chosen by ``files.backend``: ``storage.blob_local`` (a folder, the
embedded default) and ``storage.blob_postgres`` (PostgreSQL, for a cluster: every instance reads what
any instance stored). Both receive an upload into a temporary file of a local scratch folder while it
is hashed and counted (``PendingBlob``; the checks of ``storage.file_types`` read that file), then
``keep`` it under its digest: the same bytes are stored once, whoever uploads them, and a half-stored
blob is never visible.

Blobs no file refers to any more are collected (``storage.blob_gc``): only those untouched for a grace
period (storing bytes that already exist touches the blob), first set aside (``bury``), then deleted or
kept (``settle``) after a last look at the database, so a blob an upload is reusing at that very moment
is never lost.

Each backend keeps its blocking work off the event loop itself: file-system calls (an fsync, a scan of
the folders) go through the ``run_blocking`` the store is given at start-up (the runtime's OS threads);
PostgreSQL queries wait cooperatively on the hub.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import IO, Any, Callable, Iterable

from domain.errors import PayloadTooLarge

_SHA256 = re.compile(r"[0-9a-f]{64}")
TEMP_PREFIX = ".part-"
BURIED_PREFIX = ".gc-"


def checked_digest(sha256: str) -> str:
    """``sha256`` itself when it is a blob name (64 lowercase hex digits); ValueError otherwise."""
    if not _SHA256.fullmatch(sha256):
        raise ValueError("not a sha256 digest")
    return sha256


def is_digest(name: str) -> bool:
    return _SHA256.fullmatch(name) is not None


class BlobStore(ABC):
    """What uploads, downloads and the collector need of a store; ``root`` is its local scratch folder
    (and, for the folder backend, where the blobs live)."""

    def __init__(self, root: Path, run_blocking: Callable[..., Any]) -> None:
        self.root = root.resolve()
        self.run_blocking = run_blocking
        self.root.mkdir(parents=True, exist_ok=True)

    def begin(self, limit: int) -> PendingBlob:
        """A temporary blob that accepts at most ``limit`` bytes."""
        fd, name = tempfile.mkstemp(dir=self.root, prefix=TEMP_PREFIX)
        return PendingBlob(self, os.fdopen(fd, "wb"), Path(name), limit)

    def put(self, data: bytes) -> str:
        """Store ``data`` (small: a thumbnail); returns its digest."""
        pending = self.begin(len(data))
        try:
            pending.write(data)
            return pending.commit()
        finally:
            pending.discard()

    def drop_abandoned(self, cutoff: float) -> int:
        """Delete scratch files (uploads cut off by a crash) older than ``cutoff``; how many."""
        return self.run_blocking(self._drop_abandoned, cutoff)

    def _drop_abandoned(self, cutoff: float) -> int:
        dropped = 0
        for entry in os.scandir(self.root):
            if entry.name.startswith((TEMP_PREFIX, BURIED_PREFIX)) and entry.stat().st_mtime < cutoff:
                Path(entry.path).unlink(missing_ok=True)
                dropped += 1
        return dropped

    @abstractmethod
    def exists(self, sha256: str) -> bool:
        """Whether the blob is stored (and readable)."""

    @abstractmethod
    def open(self, sha256: str) -> tuple[IO[bytes], int]:
        """A seekable binary reader of the blob and its size; FileNotFoundError when it is not stored.
        The caller closes the reader."""

    @abstractmethod
    def keep(self, pending: PendingBlob) -> None:
        """Store the received bytes of ``pending`` under ``pending.sha256`` (touching the blob when it is
        already stored); the scratch file is the caller's to drop."""

    @abstractmethod
    def old_blobs(self, cutoff: float) -> list[str]:
        """Digests of the blobs last stored or reused before ``cutoff`` (epoch seconds)."""

    @abstractmethod
    def bury(self, digests: Iterable[str], cutoff: float) -> list[str]:
        """Set aside each blob still untouched since ``cutoff``; the digests set aside."""

    @abstractmethod
    def settle(self, buried: Iterable[str], keep: set[str], cutoff: float) -> int:
        """Delete the buried blobs, but keep those in ``keep`` or touched since ``cutoff`` (reused by an
        upload just then); how many were deleted."""


class PendingBlob:
    """A write-only scratch file being received. ``commit`` hands it to the store, ``discard`` drops it.

    It has the ``write``/``seek`` a multipart parser needs to stream a part straight into it.
    """

    def __init__(self, store: BlobStore, handle: IO[bytes], temp_path: Path, limit: int) -> None:
        self._store, self.handle, self.temp_path, self.limit = store, handle, temp_path, limit
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.limit:
            raise PayloadTooLarge(f"file larger than {self.limit} bytes", {"max_upload_bytes": self.limit})
        self._hash.update(data)
        self.handle.write(data)
        return len(data)

    def flush(self) -> None:
        """Hand the buffered bytes to the OS, so ``temp_path`` can be read."""
        self.handle.flush()

    def seek(self, offset: int, whence: int = 0) -> int:
        """The parser rewinds a finished part; this file is only ever read through ``temp_path``."""
        self.flush()
        return 0

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def commit(self) -> str:
        """Store the bytes under their digest (once, whoever sent them first); returns the digest."""
        digest = self.sha256
        self._store.keep(self)
        return digest

    def discard(self) -> None:
        """Drop the scratch file unless the store moved it (safe to call more than once)."""
        if not self.handle.closed:
            self.handle.close()
        self.temp_path.unlink(missing_ok=True)
