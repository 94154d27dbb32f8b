"""What the Chromium-driven tests need (Debian's Chromium, node, web/ui's playwright-core): skipped with the
reason when absent, required when ``CI`` is set (``.ci/run`` installs them)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))


def require(*needs: tuple[bool, str]) -> None:
    missing = [what for present, what in needs if not present]
    if not missing:
        return
    reason = "web UI browser test needs " + " and ".join(missing)
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required in CI: .ci/run installs them)")
    pytest.skip(reason)


def node_modules() -> tuple[bool, str]:
    return (ROOT / "web" / "ui" / "node_modules" / "playwright-core").is_dir() and bool(shutil.which("node")), \
        "node and web/ui/node_modules (make ui)"


def chromium_and_playwright() -> bool:
    return CHROMIUM.exists() and node_modules()[0]
