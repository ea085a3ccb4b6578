"""The house: each package imports only its own floor and those below it, no two modules
import each other however indirectly (TYPE_CHECKING imports count: they are still a
dependency a reader has to follow), and modules and functions stay small enough to read,
or say why not. Reads the sources; needs no server."""

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository
# Ground floor first. A package may import those before it, never one after it.
LAYERS = (
    "atp", "reservations", "routing", "durability", "engine", "catalog",
    "changes", "webhooks", "alerts", "orders", "api", "ui", "cli", "simulation",
)  # fmt: skip
RANK = {name: i for i, name in enumerate(LAYERS)}


def _modules() -> Iterator[tuple[str, Path]]:
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield ".".join(p for p in parts if p != "__init__"), path


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] in RANK}


GRAPH = {module: _imports(path) for module, path in _modules()}


def test_no_package_imports_one_above_it() -> None:
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if RANK[target.split(".")[0]] > RANK[module.split(".")[0]]
    )
    assert not upward, "\n".join(upward)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_shipped_code_imports_no_checking_code() -> None:
    """Reference models, oracles, benchmarks and tests are not shipped (pyproject)."""
    unshipped = ("oracles", "bench", "tests", "support")
    found = sorted(
        f"{module} imports {target}"
        for module, path in _modules()
        for target in _all_imports(path)
        if target.split(".")[0] in unshipped
    )
    assert not found, "\n".join(found)


def _all_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_import_cycle() -> None:
    modules = set(GRAPH)
    graph = {m: {t for t in targets if t in modules and t != m} for m, targets in GRAPH.items()}
    assert _cycles(graph) == []


def test_the_check_finds_what_it_looks_for() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]
    assert "engine.local" in GRAPH and "atp.keys" in GRAPH["atp.stock"]  # imports are read
    assert len(GRAPH) > 100  # the shipped packages, not some other folder


MODULE_LINES_MAX = 300
FUNCTION_LINES_MAX = 70
# Each exception with its reason; a new one must be added here, with one.
LARGE = {
    "routing/search.py": "the branch-and-bound and its polish share one frame's state",
    "routing/search.py:dfs": "the branch-and-bound loop kept in one frame: bench.routing's p99",
    "routing/flow.py:route_units": "the min-cost flow's augmenting loop in one piece",
}


def _sizes() -> Iterator[tuple[str, int, int]]:
    """(place, lines, limit) for every shipped module and function."""
    for _, path in _modules():
        source = path.read_text()
        name = str(path.relative_to(ROOT))
        yield name, source.count("\n"), MODULE_LINES_MAX
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert node.end_lineno is not None
                length = node.end_lineno - node.lineno + 1
                yield f"{name}:{node.name}", length, FUNCTION_LINES_MAX


def test_modules_and_functions_stay_small_or_say_why() -> None:
    too_large = sorted(
        f"{place}: {lines} lines (limit {limit})"
        for place, lines, limit in _sizes()
        if lines > limit and place not in LARGE
    )
    assert not too_large, "\n".join(too_large)
    stale = sorted(set(LARGE) - {place for place, lines, limit in _sizes() if lines > limit})
    assert not stale, f"no longer large, take them out of LARGE: {stale}"
