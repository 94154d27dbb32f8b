"""Refuse a files folder that the other instances of a cluster do not share.

With ``files.backend = local`` on a PostgreSQL database, every instance serves every file row, so every
instance must see the same folder: a file uploaded through one instance would otherwise be missing on
the others. The folder carries a marker file with a random token; the cluster's Redis remembers the
token of the folder its instances use. An instance that starts while others are alive and finds another
token (or none) in its folder is not looking at their folder, and refuses to start with one line.
"""
from __future__ import annotations

import uuid
from pathlib import Path

import redis

from domain.config import AppConfig

MARKER = ".confab-folder"


class FolderNotShared(ValueError):
    """The files folder is not the one the running instances use; the message is one line for the operator."""


def folder_token(folder: Path) -> str:
    """The folder's marker token, created on first use (the first writer wins a race)."""
    marker = folder / MARKER
    try:
        with open(marker, "x") as created:
            created.write(uuid.uuid4().hex)
    except FileExistsError:
        pass
    return marker.read_text().strip()


def require_shared_folder(config: AppConfig, client: redis.Redis, prefix: str, others_alive: bool) -> None:
    """With a local store on PostgreSQL: record this folder as the cluster's when no other instance is alive,
    else refuse it unless it is the folder they record."""
    if config.files.backend != "local" or config.database_url.startswith("sqlite:///"):
        return
    key = f"{prefix}:files:folder"
    mine = folder_token(config.files_path)
    if not others_alive:
        client.set(key, mine)
        return
    client.set(key, mine, nx=True)  # instances older than this check recorded nothing
    theirs = client.get(key)
    if theirs is not None and theirs.decode() != mine:
        raise FolderNotShared(
            f"files.dir {config.files_path.resolve()} is not the folder the other instances of this cluster use: "
            "share one folder between them, or set files.backend = postgresql")
