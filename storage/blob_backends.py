"""The blob store ``files.backend`` names (``storage.blob_store`` describes the interface)."""
from __future__ import annotations

from typing import Any, Callable

from domain.config import AppConfig
from storage.blob_local import LocalBlobStore
from storage.blob_postgres import PostgresBlobStore
from storage.blob_store import BlobStore


def create_blob_store(config: AppConfig, run_blocking: Callable[..., Any]) -> BlobStore:
    """The configured backend; its scratch folder (and the local backend's blobs) in ``files.dir``."""
    backend = PostgresBlobStore if config.files.backend == "postgresql" else LocalBlobStore
    return backend(config.files_path, run_blocking)
