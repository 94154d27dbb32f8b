"""Secrets kept on disk: generated once, readable only by the owner (0600), never logged."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

JWT_SECRET_FILE = "jwt_secret"
VAPID_KEY_FILE = "vapid_private.pem"  # Web Push: the server's signing key (storage.push_keys)
#: the files at the top of the data folder that hold generated secrets; a backup carries each of them
SECRET_FILES = (JWT_SECRET_FILE, VAPID_KEY_FILE)


def load_or_create_secret(path: Path, nbytes: int = 48) -> str:
    """Return the secret stored at ``path``, creating it with 0600 permissions the first time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        value = path.read_text(encoding="ascii").strip()
        if len(value) < 32:
            raise ValueError(f"{path}: secret is too short; delete the file to generate a new one") from None
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        return value
    value = secrets.token_urlsafe(nbytes)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return value
