"""The layers stay on their floors (docs/architecture.md, Layout): domain < storage < actors < web <
app.py, no module imports one of a higher layer, and no two modules import each other, even through
others. Read from the source with ``ast``, so a lazy import inside a function counts too."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {"domain": 0, "storage": 1, "actors": 2, "web": 3, "manage": 4, "app": 4}


def _modules(root: Path = ROOT) -> dict[str, Path]:
    found = {"app": root / "app.py"}
    for package in ("domain", "storage", "actors", "web", "manage"):
        for path in (root / package).rglob("*.py"):
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module → the modules of this tree it imports (``from package import module`` names the module)."""
    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = {}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {resolve(alias.name) for alias in node.names} - {None}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                for alias in node.names:
                    target = resolve(f"{base}.{alias.name}") if f"{base}.{alias.name}" in modules else resolve(base)
                    if target:
                        targets.add(target)
        edges[module] = targets - {module}
    return edges


def _upward(edges: dict[str, set[str]]) -> list[str]:
    return sorted(f"{a} -> {b}" for a, targets in edges.items() for b in targets
                  if LAYERS[a.split(".")[0]] < LAYERS[b.split(".")[0]])


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or through others (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in edges.get(module, ()):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return cycles


def test_no_module_imports_a_higher_layer():
    assert _upward(_imports(_modules())) == []


def test_no_import_cycles():
    assert _cycles(_imports(_modules())) == []


def test_the_checks_find_an_upward_import_and_a_cycle(tmp_path):
    """The two tests above can fail: a tree with both faults is caught by the same reading."""
    for package in ("domain", "storage", "actors", "web", "manage"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "domain" / "a.py").write_text("from storage import b\n")
    (tmp_path / "storage" / "b.py").write_text("import domain.a\n")
    (tmp_path / "app.py").write_text("")
    edges = _imports(_modules(tmp_path))
    assert _upward(edges) == ["domain.a -> storage.b"]
    assert _cycles(edges) == [["domain.a", "storage.b"]]
