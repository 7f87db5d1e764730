"""The package layout: one folder per pipeline stage, imports pointing down the pipeline.

Reads every module's imports with ``ast`` (no import is executed) and checks that

* every module sits in a known stage (a new top-level module must be placed here);
* a module imports only from its own stage or earlier ones (a pass never imports a
  renderer, nothing imports the CLI), with one named exception: the Jupyter hook;
* no circle of imports exists among the modules;
* nothing below ``cli.py`` prints or writes to the terminal itself.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "analyzer"

# Stage of each top-level module or folder: data flows from low numbers to high ones,
# and a module may import only from stages at or below its own. claims/ and testing/
# share a stage: claims are run over testing's strategies, and testing's assertions and
# pytest plugin run claims; that lateral edge is allowed, circles are not.
STAGES = {
    "errors": 0,
    "output": 0,
    "progress": 0,
    "frontend": 1,
    "passes": 2,
    "analysis": 3,
    "empirical": 4,
    "symbolic": 5,
    "testing": 6,
    "claims": 6,
    "strategies": 6,
    "render": 7,
    "census": 8,
    "census_diffusers": 8,
    "census_document": 8,
    "census_store": 8,
    "census_pool": 8,
    "census_ray": 8,
    "census_validation": 8,
    "census_inputs": 8,
    "census_cost": 8,
    "blockwise_ray": 8,  # validate --blockwise --executor ray: the census's executor seam
    "console": 9,  # the CLI's progress display: prints, so it sits with cli.py
    "cli": 9,
    "__main__": 9,  # `python -m analyzer`: the command line
}
# Upward imports allowed inside a function, each for a reason.
LAZY_EXCEPTIONS = {
    # Jupyter asks the object itself for its HTML; the view is imported only when called.
    ("analyzer.analysis", "analyzer.render.html"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage(module: str) -> int | None:
    """The stage of ``analyzer.X...``; the package itself (``__version__``) is stage 0."""
    parts = module.split(".")
    if len(parts) == 1:
        return 0
    return STAGES.get(parts[1])


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(), str(p)) for p in PACKAGE.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(tree: ast.Module, importer: str) -> list[tuple[str, bool]]:
    """``(imported analyzer module, inside a function)`` for every runtime import."""
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            return  # annotations only: never executed
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            in_function = True
        if isinstance(node, ast.Import):
            found.extend((a.name, in_function) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importer's package
                package = importer.split(".")[: -node.level or None]
                base = ".".join([*package, base] if base else package)
            found.append((base, in_function))
            # `from analyzer.x import y` where y is a submodule imports it too
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                if _exists(candidate):
                    found.append((candidate, in_function))
        for child in ast.iter_child_nodes(node):
            visit(child, in_function)

    visit(tree, False)
    return [(name, lazy) for name, lazy in found if name.split(".")[0] == "analyzer"]


def _exists(module: str) -> bool:
    path = PACKAGE.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def test_every_module_sits_in_a_stage() -> None:
    unplaced = sorted(m for m in modules() if m != "analyzer" and stage(m) is None)
    assert not unplaced, f"place these modules in a stage of tests/test_layout.py: {unplaced}"


def test_imports_point_down_the_pipeline() -> None:
    upward = []
    for importer, tree in modules().items():
        if importer == "analyzer":
            continue  # the package's lazy table is the public API over every stage
        for imported, lazy in imports(tree, importer):
            if imported == "analyzer" or stage(imported) is None:
                continue
            if stage(imported) > stage(importer):
                if lazy and (importer, imported) in LAZY_EXCEPTIONS:
                    continue
                upward.append(f"{importer} -> {imported}{' (in a function)' if lazy else ''}")
    assert not upward, "imports against the pipeline:\n" + "\n".join(upward)


def test_no_import_circle() -> None:
    graph: dict[str, set[str]] = {}
    for importer, tree in modules().items():
        if importer == "analyzer":
            continue
        graph[importer] = {
            imported for imported, lazy in imports(tree, importer)
            if imported in graph or _exists(imported)
            if imported != "analyzer" and not (lazy and (importer, imported) in LAZY_EXCEPTIONS)
            and imported != importer
        }  # fmt: skip
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    circle: list[str] = []

    def visit(module: str, path: list[str]) -> bool:
        state[module] = 1
        for nxt in sorted(graph.get(module, ())):
            if nxt.endswith(".__init__"):
                continue
            if state.get(nxt) == 1:
                circle.extend([*path[path.index(nxt) :], nxt] if nxt in path else [module, nxt])
                return True
            if state.get(nxt) is None and visit(nxt, [*path, nxt]):
                return True
        state[module] = 2
        return False

    for module in sorted(graph):
        if state.get(module) is None and visit(module, [module]):
            break
    assert not circle, "import circle: " + " -> ".join(circle)


def test_nothing_below_the_cli_prints() -> None:
    offenders = []
    for name, tree in modules().items():
        if stage(name) == STAGES["cli"]:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == "print":
                offenders.append(f"{name}:{node.lineno} print")
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("stdout", "stderr")
                and isinstance(node.value, ast.Name)
                and node.value.id == "sys"
            ):
                offenders.append(f"{name}:{node.lineno} sys.{node.attr}")
    assert not offenders, "only the CLI talks to the terminal:\n" + "\n".join(offenders)


def test_the_layout_test_sees_an_upward_import() -> None:
    """The checks above must be able to fail: a pass importing a renderer is caught."""
    tree = ast.parse("from analyzer.render.dot import quote\n")
    (imported, lazy), *_ = imports(tree, "analyzer.passes.sites")
    assert stage(imported) > stage("analyzer.passes.sites") and not lazy


def test_import_analyzer_stays_light() -> None:
    code = (
        "import sys, analyzer; "
        "print(sorted(m for m in ('transformers', 'graphviz', 'sympy', 'hypothesis') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_public_entry_points_resolve() -> None:
    import analyzer

    for name in analyzer.__all__:
        assert getattr(analyzer, name) is not None, name
