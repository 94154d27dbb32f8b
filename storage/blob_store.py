"""Content-addressed blob store: every blob is a file named by the SHA-256 of its bytes.

Blobs live at ``<root>/<first two hex digits>/<sha256>``; the name a client gave a file is metadata
only and never reaches a path, so no crafted name can leave the folder. Bytes are written to a
temporary file in ``root`` (the same file system) while they are hashed and counted, then renamed
into place: a half-written blob is never visible, and the same bytes are stored once.

Blobs no file refers to any more are collected (``storage.blob_gc``): only those untouched for a grace
period (storing bytes that already exist touches the blob), and each is first moved aside
(``bury``), then deleted or put back (``settle``) after a last look at the database, so a blob an
upload is reusing at that very moment is never lost.

The store's blocking file-system work (an fsync, a scan of the folders) goes through the ``run_blocking``
it is given at start-up (the runtime's OS threads), so it never stalls the event loop.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import IO, Any, Callable, Iterable

from domain.errors import PayloadTooLarge

_SHA256 = re.compile(r"[0-9a-f]{64}")
TEMP_PREFIX = ".part-"
BURIED_PREFIX = ".gc-"


class BlobStore:
    def __init__(self, root: Path, run_blocking: Callable[..., Any]) -> None:
        self.root = root.resolve()
        self.run_blocking = run_blocking
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        """Where the blob ``sha256`` lives; only a 64-digit lowercase hex digest is a blob name."""
        if not _SHA256.fullmatch(sha256):
            raise ValueError("not a sha256 digest")
        return self.root / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def begin(self, limit: int) -> PendingBlob:
        """A temporary blob that accepts at most ``limit`` bytes."""
        fd, name = tempfile.mkstemp(dir=self.root, prefix=TEMP_PREFIX)
        return PendingBlob(self, os.fdopen(fd, "wb"), Path(name), limit)

    # --- collection (blocking file-system calls: run them through ``run_blocking``) ------------------------------

    def old_blobs(self, cutoff: float) -> list[str]:
        """Digests of the blobs last written or reused before ``cutoff`` (epoch seconds)."""
        found = []
        for folder in self.root.iterdir():
            if len(folder.name) == 2 and folder.is_dir():
                found += [entry.name for entry in os.scandir(folder)
                          if _SHA256.fullmatch(entry.name) and entry.stat().st_mtime < cutoff]
        return found

    def drop_abandoned(self, cutoff: float) -> int:
        """Delete temporary files (uploads cut off by a crash) older than ``cutoff``; how many."""
        dropped = 0
        for entry in os.scandir(self.root):
            if entry.name.startswith((TEMP_PREFIX, BURIED_PREFIX)) and entry.stat().st_mtime < cutoff:
                Path(entry.path).unlink(missing_ok=True)
                dropped += 1
        return dropped

    def bury(self, digests: Iterable[str], cutoff: float) -> list[str]:
        """Move aside each blob still untouched since ``cutoff``; the digests moved."""
        buried = []
        for digest in digests:
            path = self.path(digest)
            try:
                if path.stat().st_mtime < cutoff:
                    os.replace(path, self.root / (BURIED_PREFIX + digest))
                    buried.append(digest)
            except FileNotFoundError:
                pass
        return buried

    def settle(self, buried: Iterable[str], keep: set[str], cutoff: float) -> int:
        """Delete the buried blobs, but put back those in ``keep`` or touched while being buried (reused by
        an upload just then); how many were deleted."""
        deleted = 0
        for digest in buried:
            grave = self.root / (BURIED_PREFIX + digest)
            if digest in keep or grave.stat().st_mtime >= cutoff:
                os.replace(grave, self.path(digest))  # identical bytes if an upload stored them again meanwhile
            else:
                grave.unlink()
                deleted += 1
        return deleted

    def put(self, data: bytes) -> str:
        """Store ``data`` (small: a thumbnail); returns its digest."""
        pending = self.begin(len(data))
        try:
            pending.write(data)
            return pending.commit()
        finally:
            pending.discard()


class PendingBlob:
    """A write-only file being received. ``commit`` moves it into the store, ``discard`` drops it.

    It has the ``write``/``seek`` a multipart parser needs to stream a part straight into it.
    """

    def __init__(self, store: BlobStore, handle: IO[bytes], temp_path: Path, limit: int) -> None:
        self._store, self._handle, self.temp_path, self.limit = store, handle, temp_path, limit
        self._hash = hashlib.sha256()
        self.size = 0
        self.committed = False

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.limit:
            raise PayloadTooLarge(f"file larger than {self.limit} bytes", {"max_upload_bytes": self.limit})
        self._hash.update(data)
        self._handle.write(data)
        return len(data)

    def flush(self) -> None:
        """Hand the buffered bytes to the OS, so ``temp_path`` can be read."""
        self._handle.flush()

    def seek(self, offset: int, whence: int = 0) -> int:
        """The parser rewinds a finished part; this file is only ever read through ``temp_path``."""
        self.flush()
        return 0

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def commit(self) -> str:
        """Make the bytes durable and move them to their digest's name (dropping them if that blob
        already exists); returns the digest. The fsync runs off the hub."""
        digest = self.sha256
        target = self._store.path(digest)
        self._store.run_blocking(self._finish, target)
        self.committed = True
        return digest

    def _finish(self, target: Path) -> None:
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        if target.is_file():
            try:
                os.utime(target)  # reused: the collector leaves recently touched blobs alone
                self.temp_path.unlink()
                return
            except FileNotFoundError:
                pass  # being collected this very moment: store these bytes again
        target.parent.mkdir(exist_ok=True)
        os.replace(self.temp_path, target)

    def discard(self) -> None:
        """Drop the temporary file unless committed (safe to call more than once)."""
        if not self._handle.closed:
            self._handle.close()
        if not self.committed:
            self.temp_path.unlink(missing_ok=True)
