"""The shape of the code, checked: packages import only the layers below them (so no two
import each other), the engine does no I/O, and no module grows past what a reader takes in
at once. docs/design.md draws the same layers."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import clepsydra

ROOT = Path(clepsydra.__file__).parent
MAX_MODULE_LINES = 600
# Each top-level package or module of clepsydra, by layer: a package may import its own
# modules and those of lower layers only.
LAYERS: dict[str, int] = {
    "errors": 0,
    "clock": 0,
    "engine": 1,
    "visibility": 1,
    "security": 1,
    "matching": 2,
    "store": 2,
    "history": 3,
    "services": 4,
    "cleanup": 5,
    "cluster": 5,
    "batch": 6,
    "api": 7,
    "http": 7,
    "ui": 8,
    "server": 9,
    "testing": 10,
    "cli": 10,
    "__main__": 11,
    "__init__": 11,
}
# What would make the engine impure: I/O, clocks, randomness, concurrency.
IMPURE = {
    "asyncio", "sqlite3", "socket", "os", "time", "random", "uuid", "threading", "subprocess",
    "pathlib", "logging", "asyncpg", "grpc", "starlette", "uvicorn",
}  # fmt: skip
CLOCK_READS = {"now", "utcnow", "today", "time", "monotonic"}


def modules() -> Iterator[tuple[str, Path]]:
    """(top-level package or module name, file) for every module of clepsydra."""
    for path in sorted(ROOT.rglob("*.py")):
        yield path.relative_to(ROOT).parts[0].removesuffix(".py"), path


def imported(path: Path) -> Iterator[str]:
    """The modules a file imports (TYPE_CHECKING imports included: they are dependencies too)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            if node.module == "clepsydra":  # `from clepsydra import x`: x may be a module
                yield from (f"clepsydra.{a.name}" for a in node.names if _is_module(a.name))


def _is_module(name: str) -> bool:
    return (ROOT / name).is_dir() or (ROOT / f"{name}.py").is_file()


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for package, path in modules():
        for name in imported(path):
            parts = name.split(".")
            if parts[0] == "clepsydra" and len(parts) > 1 and parts[1] != package:
                graph.setdefault(package, set()).add(parts[1])
    return graph


def test_every_package_has_a_layer() -> None:
    assert {package for package, _ in modules()} <= set(LAYERS)


def test_packages_import_only_lower_layers() -> None:
    wrong = [
        f"{package} (layer {LAYERS[package]}) imports {target} (layer {LAYERS[target]})"
        for package, targets in package_graph().items()
        for target in targets
        if LAYERS[target] >= LAYERS[package]
    ]
    assert wrong == []


def test_no_import_cycle_between_packages() -> None:
    graph = package_graph()

    def cycle_from(start: str, path: list[str]) -> list[str] | None:
        for target in sorted(graph.get(path[-1], ())):
            if target == start:
                return [*path, start]
            if target not in path and (found := cycle_from(start, [*path, target])):
                return found
        return None

    cycles = [found for package in sorted(graph) if (found := cycle_from(package, [package]))]
    assert cycles == []


def test_the_engine_does_no_io_and_reads_no_clock() -> None:
    wrong = []
    for package, path in modules():
        if package != "engine":
            continue
        for name in imported(path):
            top, _, rest = name.partition(".")
            if top in IMPURE or (top == "clepsydra" and rest.split(".")[0] not in ("engine", "errors")):
                wrong.append(f"{path.name} imports {name}")
        for node in ast.walk(ast.parse(path.read_text())):
            call = node.func if isinstance(node, ast.Call) else None
            if isinstance(call, ast.Attribute) and call.attr in CLOCK_READS:
                wrong.append(f"{path.name}:{node.lineno} calls .{call.attr}()")
    assert wrong == []


def test_no_module_is_longer_than_a_reader_takes_in() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for _, path in modules()
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}
