"""What every bench report shares: number formatting, ratios, and rewriting a report's tables while
keeping the hand-written ``## Findings`` section already below them."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def fmt(value: Any, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def ratio(a: Any, b: Any) -> float | None:
    return a / b if a and b else None


def write_keeping_findings(out: Path, tables: str) -> None:
    previous = out.read_text() if out.exists() else ""
    notes = previous[previous.index("## Findings"):] if "## Findings" in previous else ""
    out.write_text(tables + ("\n" + notes if notes else ""))
