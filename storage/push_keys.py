"""The server's VAPID key pair (RFC 8292) for Web Push: generated once into the data folder (0600) and
kept, because browsers bind each subscription to the public key they were given."""
from __future__ import annotations

import base64
import functools
import os
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from py_vapid import Vapid02


@functools.lru_cache(maxsize=4)
def load_or_create(path: Path) -> Vapid02:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = Vapid02()
        fresh.generate_keys()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        fresh.save_key(str(path))
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    return Vapid02.from_file(str(path))


def application_server_key(vapid: Vapid02) -> str:
    """The public key as ``PushManager.subscribe`` takes it: the uncompressed point, base64url."""
    point = vapid.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(point).decode().rstrip("=")
