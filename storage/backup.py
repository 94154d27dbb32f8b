"""Backups of one Confab's state, taken while it runs, and their restore into an empty place.

An archive (tar; gzip when its name ends in ``.gz``) holds:

- ``manifest.json``: ``{format, created_at, database, schema_version, files, bytes}``;
- ``confab.db``: the SQLite database, copied with SQLite's online backup API in one step, so it is one
  consistent moment of the database even while the server writes (with PostgreSQL this part is
  ``pg_dump``'s, and the archive has no database);
- ``secrets/<name>``: the generated secrets of the data folder (``storage.secrets.SECRET_FILES``);
- ``files/<xx>/<sha256>``: the uploaded files. Blobs are immutable and written before the row that
  names them commits, so copying them after the database copy finds every blob it refers to.

Not included: the broker's segment logs. They hold records in flight; everything acknowledged is in the
database already, and a restored server starts with empty partitions (a command that was not committed
was never acknowledged, and its client resends it with the same ``client_msg_id``).
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, IO, Iterator

from domain.config import AppConfig
from domain.jsonfmt import rfc3339
from storage.blob_store import TEMP_PREFIX
from storage.models import utcnow
from storage.secrets import SECRET_FILES

FORMAT = 1
DATABASE_MEMBER = "confab.db"
_BLOB_MEMBER = re.compile(r"^files/([0-9a-f]{2})/(\1[0-9a-f]{62})$")


class BackupError(Exception):
    """The backup or restore cannot be done as asked; nothing was left half-written."""


@dataclass(frozen=True)
class Places:
    """Where a configuration keeps its state: the data folder, the SQLite file (None on PostgreSQL), files."""
    data_dir: Path
    database: Path | None
    files: Path

    @classmethod
    def of(cls, config: AppConfig) -> "Places":
        url = config.database_url
        database = Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else None
        return cls(config.data_path, database, config.files_path)

    @property
    def engine(self) -> str:
        return "postgresql" if self.database is None else "sqlite"


def write_backup(config: AppConfig, out: Path) -> dict[str, Any]:
    """Write the archive ``out`` (refused if it exists); returns its manifest."""
    places = Places.of(config)
    if out.exists():
        raise BackupError(f"{out} exists; choose a new name")
    if places.database is not None and not places.database.is_file():
        raise BackupError(f"no database at {places.database}: nothing to back up")
    partial = out.with_name(out.name + ".partial")
    with tempfile.TemporaryDirectory(prefix="confab-backup-") as scratch:
        manifest: dict[str, Any] = {"format": FORMAT, "created_at": rfc3339(utcnow()), "database": places.engine,
                                    "schema_version": None, "files": 0, "bytes": 0}
        try:
            with tarfile.open(partial, "w:gz" if out.name.endswith(".gz") else "w") as tar:
                if places.database is not None:
                    copy = Path(scratch) / DATABASE_MEMBER
                    manifest["schema_version"] = _copy_database(places.database, copy)
                    tar.add(copy, DATABASE_MEMBER, recursive=False)
                for name in SECRET_FILES:
                    if (places.data_dir / name).is_file():
                        tar.add(places.data_dir / name, f"secrets/{name}", recursive=False)
                for blob, member in _blobs(places.files):
                    tar.add(blob, member, recursive=False)
                    manifest["files"] += 1
                    manifest["bytes"] += blob.stat().st_size
                _add_bytes(tar, "manifest.json", json.dumps(manifest, indent=1).encode())
            os.replace(partial, out)
        finally:
            partial.unlink(missing_ok=True)
    return manifest


def _copy_database(source: Path, target: Path) -> int | None:
    """Online backup of ``source`` into ``target`` in one step (a consistent snapshot), then checked;
    returns the copy's schema version."""
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.execute("PRAGMA busy_timeout = 30000")
        src.backup(dst)
        verdict = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            raise BackupError(f"the copy of {source} failed its integrity check: {verdict}")
        return _schema_version(dst)
    finally:
        dst.close()
        src.close()


def _schema_version(db: sqlite3.Connection) -> int | None:
    try:
        return db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    except sqlite3.DatabaseError:
        return None


def _blobs(root: Path) -> Iterator[tuple[Path, str]]:
    if not root.is_dir():
        return
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and len(p.name) == 2):
        for blob in sorted(folder.iterdir()):
            member = f"files/{folder.name}/{blob.name}"
            if blob.is_file() and not blob.name.startswith(TEMP_PREFIX) and _BLOB_MEMBER.match(member):
                yield blob, member


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


def read_manifest(archive: Path) -> dict[str, Any]:
    with _open(archive) as tar:
        return _manifest(tar)


def restore_backup(config: AppConfig, archive: Path) -> dict[str, Any]:
    """Unpack ``archive`` into the places ``config`` names, each of which must be empty or absent."""
    places = Places.of(config)
    with _open(archive) as tar:
        manifest = _manifest(tar)
        if manifest["database"] != places.engine:
            raise BackupError(f"the archive holds a {manifest['database']} backup; this configuration uses "
                              f"{places.engine} (database.url)")
        _refuse_occupied(places)
        members = tar.getmembers()
        _check_members(members)
        for member in members:
            target, mode = _target(places, member.name)
            if target is not None:
                _write(tar.extractfile(member), target, mode)  # type: ignore[arg-type]
    if places.database is not None:
        with sqlite3.connect(places.database) as db:
            verdict = db.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            raise BackupError(f"the restored database failed its integrity check: {verdict}")
    return manifest


def _open(archive: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(archive, "r:*")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"cannot read {archive}: {exc}") from None


def _manifest(tar: tarfile.TarFile) -> dict[str, Any]:
    try:
        handle = tar.extractfile("manifest.json")
        manifest = json.loads(handle.read()) if handle is not None else None
    except (KeyError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("not a Confab backup (no manifest.json of format 1)")
    return manifest


def _refuse_occupied(places: Places) -> None:
    occupied = [str(path) for path in (places.data_dir, places.files) if path.exists() and any(path.iterdir())]
    if places.database is not None and places.database.exists():
        occupied.append(str(places.database))
    if occupied:
        raise BackupError(f"restore needs an empty place; not empty: {', '.join(occupied)}")


def _check_members(members: list[tarfile.TarInfo]) -> None:
    """Only the layout above, only regular files: nothing in an archive chooses a path outside it."""
    for member in members:
        secret = member.name.startswith("secrets/") and member.name.removeprefix("secrets/") in SECRET_FILES
        if not member.isfile() or not (member.name in ("manifest.json", DATABASE_MEMBER) or secret
                                       or _BLOB_MEMBER.match(member.name)):
            raise BackupError(f"unexpected entry in the archive: {member.name!r}")


def _target(places: Places, name: str) -> tuple[Path | None, int]:
    if name == DATABASE_MEMBER:
        return places.database, 0o644
    if name.startswith("secrets/"):
        return places.data_dir / name.removeprefix("secrets/"), 0o600
    if name.startswith("files/"):
        return places.files / name.removeprefix("files/"), 0o644
    return None, 0


def _write(source: IO[bytes], target: Path, mode: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        shutil.copyfileobj(source, handle)
        handle.flush()
        os.fsync(handle.fileno())
