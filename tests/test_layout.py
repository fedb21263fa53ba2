"""The package's layout, as docs/engines.rst ("Where the code is") describes
it: imports go one way, from the interpreter up to pytest, only the glue
imports pytest, no module imports itself round a circle, and no module or
class grows into a hub."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "pytest_bytecount"
ENGINES_DOC = Path(__file__).parent.parent / "docs" / "engines.rst"

#: Each module's layer, lowest first; a module imports from its own layer
#: or lower ones. Modules of the same layer may import each other, without
#: a circle.
LAYERS: dict[str, tuple[str, ...]] = {
    "engine": ("engine",),
    "helpers": ("determinism", "escaping", "files", "verdict"),
    "attribution": ("attribution", "generated_code", "explain", "source_counts", "stack_diff"),
    "measurement": ("measurement", "counting"),
    "model": (
        "complexity",
        "complexity_verdict",
        "compare",
        "records",
        "report",
        "report_checks",
        "report_loader",
        "budgets",
        "budgets_toml",
        "shards",
        "history",
    ),
    "render": ("render",),
    "glue": (
        "hypothesis_tests",
        "selection",
        "options",
        "fixture",
        "marker",
        "complexity_marker",
        "run",
        "state",
        "call_spans",
        "runner",
        "reporting",
        "outputs",
        "terminal",
        "plugin",
        "cli",
        "__main__",
        "__init__",
    ),
}
LAYER_OF = {name: number for number, names in enumerate(LAYERS.values()) for name in names}
#: The glue, the only layer that imports pytest.
GLUE = len(LAYERS) - 1
MOST_MODULE_LINES = 400
MOST_CLASS_LINES = 200
#: The classes allowed to be bigger, and why.
BIG_CLASSES = {
    # The C core's twin: its per-event callbacks are methods reading the
    # core's own attributes, and each step out of the class costs each event.
    "engine._pycore.PythonCore": 350,
    # The public value: each of its members is documented API (docs/api.rst).
    "measurement.Measurement": 260,
    # Start, stop and the events of a span on 3.12+, kept together.
    "engine.monitoring.MonitoringEngine": 240,
}


def modules() -> Iterator[tuple[str, Path]]:
    """Each module of the package by dotted name within it (`engine.hits`)."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        yield ".".join(parts), path


def layer(module: str) -> int:
    top = module.split(".")[0]
    assert top in LAYER_OF, f"{module}: not in LAYERS; give it its place there and in the docs"
    return LAYER_OF[top]


def imports(module: str, path: Path) -> set[str]:
    """The package's modules `module` imports (also under TYPE_CHECKING, and
    inside functions), and "pytest" if it imports pytest."""
    is_package = path.name == "__init__.py"
    here = module.split(".") if is_package and module != "__init__" else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names if alias.name == "pytest"}
            found |= {
                alias.name.removeprefix("pytest_bytecount.")
                for alias in node.names
                if alias.name.startswith("pytest_bytecount.")
            }
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module == "pytest":
                    found.add("pytest")
                elif node.module and node.module.startswith("pytest_bytecount."):
                    found.add(node.module.removeprefix("pytest_bytecount."))
                continue
            base = here[: len(here) - (node.level - 1)]
            if node.module:
                found.add(".".join([*base, node.module]))
            else:  # `from . import history`: each name may be a module
                found |= {".".join([*base, alias.name]) for alias in node.names}
    return {name for name in found if name}


IMPORTS = {module: imports(module, path) for module, path in modules()}
KNOWN = set(IMPORTS)


def internal(names: set[str]) -> set[str]:
    """The names that are modules of the package (`from . import __version__`
    is not)."""
    return {name for name in names if name in KNOWN}


@pytest.mark.parametrize("module", sorted(IMPORTS))
def test_imports_go_one_way(module: str) -> None:
    upward = sorted(name for name in internal(IMPORTS[module]) if layer(name) > layer(module))
    assert not upward, f"{module} (layer {layer(module)}) imports from higher layers: {upward}"


@pytest.mark.parametrize("module", sorted(IMPORTS))
def test_only_the_glue_imports_pytest(module: str) -> None:
    if "pytest" in IMPORTS[module]:
        assert layer(module) == GLUE, f"{module} imports pytest below the glue"


def test_no_module_imports_itself_round_a_circle() -> None:
    graph = {module: internal(names) - {module} for module, names in IMPORTS.items()}
    # A package's __init__ re-exports its modules; it is not a step of a circle.
    packages = {module for module, path in modules() if path.name == "__init__.py"}
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            circle = [*path[path.index(module) :], module]
            pytest.fail(f"import circle: {' -> '.join(circle)}")
        if module in done:
            return
        for name in sorted(graph[module] - packages):
            visit(name, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


@pytest.mark.parametrize("module", sorted(IMPORTS))
def test_no_module_or_class_is_a_hub(module: str) -> None:
    path = dict(modules())[module]
    text = path.read_text(encoding="utf-8")
    lines = text.count("\n")
    assert lines <= MOST_MODULE_LINES, f"{module}: {lines} lines; split it by job"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef):
            assert node.end_lineno is not None
            size = node.end_lineno - node.lineno + 1
            most = BIG_CLASSES.get(f"{module}.{node.name}", MOST_CLASS_LINES)
            assert size <= most, f"{module}.{node.name}: {size} lines"


def test_the_docs_name_every_module() -> None:
    """docs/engines.rst's list of where the code is names each module."""
    section = ENGINES_DOC.read_text(encoding="utf-8").split("Where the code is", 1)[1]
    named = set(re.findall(r"``([\w/]+)\.py``", section))
    files = {path.relative_to(PACKAGE).with_suffix("").as_posix() for _, path in modules()}
    missing = sorted(
        name
        for name in files
        if not name.endswith("__init__") and name.split("/")[0] not in ("engine", "render")
        if name not in named
    )
    assert not missing, f"docs/engines.rst does not say where these are: {missing}"
