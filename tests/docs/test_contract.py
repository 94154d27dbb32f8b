"""docs/ is the contract, so it must say what the code does: the /ws client frames the server accepts, the
metrics the code sends, and nothing in the repository may point at files outside it."""
from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

from domain.metrics import SCOPE
from tests.support.harness import ROOT, running_server

DOCS = ROOT / "docs"
#: statsd calls by method, as the catalog's "type" column names them
KIND = {"incr": "counter", "gauge": "gauge", "timing": "timer"}
#: where metric calls are not looked for: not the server's code
NOT_SERVER_CODE = ("tests", "bench", "ops", ".venv", "web/ui", "node_modules")


def table_after(document: Path, heading: str) -> list[list[str]]:
    """The rows (cells, stripped) of the first table under ``heading``, header and rule excluded."""
    lines = document.read_text().splitlines()
    start = lines.index(heading)
    rows: list[list[str]] = []
    for line in lines[start + 1:]:
        if line.startswith("#"):
            break
        if line.startswith("|"):
            rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
        elif rows:
            break
    return rows[2:]


def code_name(cell: str) -> str:
    found = re.fullmatch(r"`([^`]+)`", cell)
    assert found, f"expected a `name` in the first column, got {cell!r}"
    return found.group(1)


def test_the_protocol_lists_exactly_the_client_frames_the_server_accepts(tmp_path):
    with running_server(tmp_path) as srv:  # the bootstrap gives every /ws session the features' frames
        accepted = set(srv.confab.services.router.routes)
    documented = [code_name(row[0]) for row in table_after(DOCS / "protocol.md", "### Client → server frames")]
    assert len(documented) == len(set(documented)), "a frame type is listed twice"
    assert set(documented) == accepted, (f"accepted, not in docs/protocol.md: {sorted(accepted - set(documented))}; "
                                         f"documented, not accepted: {sorted(set(documented) - accepted)}")


def _canonical(name: str) -> str:
    return re.sub(r"<[^>]+>", "<>", name)


def _metric_name(node: ast.expr) -> str | None:
    """A literal name as is, an f-string with each interpolation as ``<>``; None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = [p.value if isinstance(p, ast.Constant) else "<>" for p in node.values]
        return "".join(parts)
    return None


def metric_calls() -> tuple[set[tuple[str, str]], list[str]]:
    """``(type, name)`` of every statsd call in the server's code, and the calls whose name cannot be read."""
    found: set[tuple[str, str]] = set()
    unreadable: list[str] = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(NOT_SERVER_CODE) or relative == "domain/metrics.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), relative)):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in KIND and re.search(r"(^|\.)_?metrics$", ast.unparse(node.func.value))):
                continue
            name = _metric_name(node.args[0]) if node.args else None
            if name is None:
                unreadable.append(f"{relative}:{node.lineno}")
            else:
                found.add((KIND[node.func.attr], name))
    return found, unreadable


def test_the_metric_catalog_is_what_the_code_sends():
    sent, unreadable = metric_calls()
    assert not unreadable, f"metric names must be literals or f-strings (docs/metrics.md): {unreadable}"
    assert ("gauge", "ws.sessions") in sent and ("counter", "errors.<>") in sent  # the scan sees the calls
    rows = table_after(DOCS / "metrics.md", "## Catalog")
    catalog = {(row[1], _canonical(code_name(row[0]))) for row in rows}
    assert len(catalog) == len(rows), "a metric is listed twice"
    assert catalog == sent, (f"sent, not in docs/metrics.md: {sorted(sent - catalog)}; "
                             f"documented, never sent: {sorted(catalog - sent)}")
    scopes = {v: k for k, v in KIND.items()}
    wrong = [row[0] for row in rows if row[3] != SCOPE[scopes[row[1]]]]
    assert not wrong, f"scope column disagrees with domain.metrics.SCOPE: {wrong}"


def test_the_scan_reads_names_the_way_the_catalog_writes_them():
    call = ast.parse('self._metrics.timing(f"http.route.{route}.{status_class}", ms)').body[0].value
    assert _metric_name(call.args[0]) == "http.route.<>.<>"
    assert _canonical("http.route.<route>.<class>") == "http.route.<>.<>"
    assert _metric_name(ast.parse("metrics.incr(name)").body[0].value.args[0]) is None


#: files being rewritten on another branch that still name the first contract outside the repository;
#: each must stop (and leave this list) when it is next edited
OUTSIDE = re.compile(r"\.\./shared|\bAPI\.md\b|\bARCHITECTURE\.md\b")


def test_nothing_in_the_repository_refers_to_files_outside_it():
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    offenders = []
    for name in filter(None, tracked.decode().split("\0")):
        path = ROOT / name
        if not path.is_file() or path.suffix in (".png", ".gz", ".ico", ".woff2"):
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line) and name != "tests/docs/test_contract.py":
                offenders.append(f"{name}:{number}: {line.strip()}")
    assert not offenders, "use docs/protocol.md or docs/architecture.md instead:\n" + "\n".join(offenders)
