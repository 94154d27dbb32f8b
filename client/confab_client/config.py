"""Where the CLI keeps its credentials: ``$CONFAB_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/confab``, else
``~/.config/confab``; ``credentials.json`` is written with mode 0600 in a 0700 folder, replaced
atomically, never readable by others even for an instant."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def config_dir() -> Path:
    explicit = os.environ.get("CONFAB_CONFIG_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "confab"


def credentials_path() -> Path:
    return config_dir() / "credentials.json"


def load() -> dict[str, Any]:
    try:
        return json.loads(credentials_path().read_text())
    except FileNotFoundError:
        return {}


def save(values: dict[str, Any]) -> Path:
    path = credentials_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle)
    os.chmod(temporary, 0o600)  # an older file of that name may have had other bits
    os.replace(temporary, path)
    return path


def update(**changes: Any) -> None:
    save({**load(), **changes})
