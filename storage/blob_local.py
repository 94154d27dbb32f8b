"""The folder backend of the blob store (``files.backend = local``, the default).

Blobs live at ``<root>/<first two hex digits>/<sha256>``; the name a client gave a file is metadata
only and never reaches a path, so no crafted name can leave the folder. A received upload is fsynced and
renamed into place (the scratch file is in ``root``, the same file system). A blob is set aside for
collection by renaming it to ``.gc-<sha256>``; reusing a blob touches its modification time.

In a cluster every instance must see the same folder (``storage.folder_sharing`` checks it at start-up),
or use the PostgreSQL backend.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Iterable

from storage.blob_store import BURIED_PREFIX, BlobStore, PendingBlob, checked_digest, is_digest


class LocalBlobStore(BlobStore):
    def path(self, sha256: str) -> Path:
        """Where the blob ``sha256`` lives; only a 64-digit lowercase hex digest is a blob name."""
        return self.root / checked_digest(sha256)[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def open(self, sha256: str) -> tuple[IO[bytes], int]:
        reader = open(self.path(sha256), "rb")
        return reader, os.fstat(reader.fileno()).st_size

    def keep(self, pending: PendingBlob) -> None:
        """Make the bytes durable and move them to their digest's name (dropping them if that blob
        already exists). The fsync runs off the hub."""
        self.run_blocking(self._finish, pending, self.path(pending.sha256))

    @staticmethod
    def _finish(pending: PendingBlob, target: Path) -> None:
        pending.handle.flush()
        os.fsync(pending.handle.fileno())
        pending.handle.close()
        if target.is_file():
            try:
                os.utime(target)  # reused: the collector leaves recently touched blobs alone
                return
            except FileNotFoundError:
                pass  # being collected this very moment: store these bytes again
        target.parent.mkdir(exist_ok=True)
        os.replace(pending.temp_path, target)

    # --- collection (blocking file-system calls, run off the hub) ------------------------------------------------

    def old_blobs(self, cutoff: float) -> list[str]:
        return self.run_blocking(self._old_blobs, cutoff)

    def bury(self, digests: Iterable[str], cutoff: float) -> list[str]:
        return self.run_blocking(self._bury, list(digests), cutoff)

    def settle(self, buried: Iterable[str], keep: set[str], cutoff: float) -> int:
        return self.run_blocking(self._settle, list(buried), keep, cutoff)

    def _old_blobs(self, cutoff: float) -> list[str]:
        found = []
        for folder in self.root.iterdir():
            if len(folder.name) == 2 and folder.is_dir():
                found += [entry.name for entry in os.scandir(folder)
                          if is_digest(entry.name) and entry.stat().st_mtime < cutoff]
        return found

    def _bury(self, digests: list[str], cutoff: float) -> list[str]:
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

    def _settle(self, buried: list[str], keep: set[str], cutoff: float) -> int:
        deleted = 0
        for digest in buried:
            grave = self.root / (BURIED_PREFIX + digest)
            if digest in keep or grave.stat().st_mtime >= cutoff:
                os.replace(grave, self.path(digest))  # identical bytes if an upload stored them again meanwhile
            else:
                grave.unlink()
                deleted += 1
        return deleted
