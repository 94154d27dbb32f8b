"""Committed consumer-group offsets of one partition: a small JSON file, replaced atomically.

An offset is the next one the group will be given. Losing the newest save only means redelivery
(at-least-once), so a damaged file is reported and read as empty rather than stopping the broker.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Mapping

from domain import logs

log = logging.getLogger("confab.broker.log")


def load_offsets(path: Path) -> dict[str, int]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        logs.event(log, "broker.offsets_unreadable", logging.WARNING, file=str(path), error=repr(exc))
        return {}
    if not isinstance(raw, dict):
        logs.event(log, "broker.offsets_unreadable", logging.WARNING, file=str(path), error="not an object")
        return {}
    return {str(group): int(offset) for group, offset in raw.items()
            if isinstance(offset, int) and not isinstance(offset, bool) and offset >= 0}


def save_offsets(path: Path, offsets: Mapping[str, int], durable: bool) -> None:
    """Write to a temporary file and rename it over ``path``; ``durable`` fsyncs the file and its folder."""
    tmp = path.with_name(path.name + ".tmp")
    data = json.dumps(dict(sorted(offsets.items())), separators=(",", ":")).encode()
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        if durable:
            os.fsync(handle.fileno())
    os.replace(tmp, path)
    if durable:
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
