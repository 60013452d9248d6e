"""The package's layout stays readable: no import cycles, no module importing another module's
underscore names, no imports hidden inside functions, no module longer than one sitting.

The checks read ``saltools/`` with ``ast`` (nothing is imported). Rules:

- an edge ``a -> b`` for every import that runs when ``a`` is imported (imports under
  ``if TYPE_CHECKING:`` never run and are left out); importing ``pkg.mod`` also runs ``pkg/__init__``,
  so it adds ``a -> pkg`` too, unless ``pkg`` is a package that ``a`` itself lies in;
- a private name is one starting with ``_``; ``from x import _name`` (a function, class or module) and
  ``x._name`` (``x`` a saltools module) are refused across modules. The names of package-internal
  modules such as ``saltools._torch`` may be imported (``from ._torch import preserved_state``: they
  are the low-level layer), their underscore names may not;
- an import inside a function is allowed only with a comment ``# optional dependency`` on its line.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 400
#: the package map of ``saltools/__init__.py`` and the README, lowest layer first: a module may import
#: only from units before its own (within a unit, e.g. ``paramsal/``, any order without cycles)
LAYERS = ["_torch", "_network", "_hashing", "parameters", "checks", "data", "models", "profiles", "evt", "paramsal",
          "rectgrad", "attributions", "baselines", "perturb", "metrics", "leakage", "depth", "experiments", "claims",
          "exercises", "plots", "widgets", "quiz", "notebook"]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def read_modules(root: Path) -> dict[str, tuple[Path, ast.Module]]:
    return {module_name(path, root): (path, ast.parse(path.read_text(), str(path)))
            for path in sorted(root.rglob("*.py"))}


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, child.end_lineno + 1))
    return lines


def imports(modules: dict) -> dict[str, list[tuple[str, str, int]]]:
    """module -> [(imported module, imported name or "", line)] for every runtime import of the package."""
    package = next(iter(modules)).split(".")[0]
    out = {}
    for name, (path, tree) in modules.items():
        skip = _type_checking_lines(tree)
        found = []
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            if isinstance(node, ast.Import):
                found += [(alias.name, "", node.lineno) for alias in node.names if alias.name.startswith(package)]
            elif isinstance(node, ast.ImportFrom):
                source = _absolute(name, path.name == "__init__.py", node)
                if source.split(".")[0] != package:
                    continue
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    found.append((submodule if submodule in modules else source, alias.name, node.lineno))
        out[name] = found
    return out


def import_graph(modules: dict) -> dict[str, set[str]]:
    graph = {name: set() for name in modules}
    for name, found in imports(modules).items():
        for target, _, _ in found:
            parts = target.split(".")
            for depth in range(2, len(parts) + 1):          # pkg.sub.mod also runs pkg.sub's __init__
                step = ".".join(parts[:depth])
                if step in modules and step != name and not (name + ".").startswith(step + "."):
                    graph[name].add(step)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def private_imports(modules: dict) -> list[str]:
    """``module:line imported`` for every underscore name taken from another saltools module."""
    problems = []
    for name, found in imports(modules).items():
        for source, imported, line in found:
            dunder = imported.startswith("__") and imported.endswith("__")      # public by convention (__version__)
            if imported.startswith("_") and not dunder and source != name:
                problems.append(f"{name}:{line} from {source} import {imported}")
        path, tree = modules[name]
        aliases = {alias.asname or alias.name.split(".")[0]: target
                   for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                   for alias in node.names
                   for target in [f"{_absolute(name, path.name == '__init__.py', node)}.{alias.name}"
                                  if isinstance(node, ast.ImportFrom) else alias.name]
                   if target in modules}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.attr.startswith("_")
                    and node.value.id in aliases and not node.attr.startswith("__")):
                problems.append(f"{name}:{node.lineno} {aliases[node.value.id]}.{node.attr}")
    return problems


def imports_in_functions(modules: dict) -> list[str]:
    problems = []
    for name, (path, tree) in modules.items():
        lines = path.read_text().splitlines()
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            for node in ast.walk(func):
                if isinstance(node, (ast.Import, ast.ImportFrom)) and "# optional dependency" not in lines[node.lineno - 1]:
                    problems.append(f"{name}:{node.lineno} {lines[node.lineno - 1].strip()}")
    return problems


@pytest.fixture(scope="module")
def saltools_modules():
    return read_modules(ROOT / "saltools")


def test_no_import_cycles(saltools_modules):
    cycle = find_cycle(import_graph(saltools_modules))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_module_imports_another_modules_underscore_names(saltools_modules):
    assert private_imports(saltools_modules) == []


def test_no_imports_inside_functions(saltools_modules):
    assert imports_in_functions(saltools_modules) == []


def test_modules_are_short_enough_to_read_in_one_sitting(saltools_modules):
    long = {name: n for name, (path, _) in saltools_modules.items()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_imports_follow_the_package_map(saltools_modules):
    def unit(module: str) -> str:
        return module.split(".")[1] if "." in module else ""

    units = {unit(name) for name in saltools_modules} - {"", "assets"}
    assert units == set(LAYERS), f"update LAYERS (and the package map) for {units ^ set(LAYERS)}"
    upward = [f"{a} -> {b}" for a, targets in import_graph(saltools_modules).items() for b in targets
              if unit(a) in LAYERS and unit(b) in LAYERS and LAYERS.index(unit(b)) > LAYERS.index(unit(a))]
    assert upward == []


def test_low_level_modules_import_nothing_of_saltools(saltools_modules):
    graph = import_graph(saltools_modules)
    for low in ("saltools._torch", "saltools._network", "saltools._hashing", "saltools.parameters"):
        assert graph[low] == set(), f"{low} imports {graph[low]}"


def _package(tmp_path: Path, files: dict[str, str]) -> dict:
    root = tmp_path / "pkg"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return read_modules(root)


def test_the_checks_catch_what_they_guard_against(tmp_path):
    modules = _package(tmp_path, {
        "__init__.py": "from . import a, b\n",
        "a.py": "from .b import helper\n",
        "b.py": "from .sub.c import _secret\nfrom . import _low\n",
        "_low.py": "",
        "sub/__init__.py": "from .c import thing\n",
        "sub/c.py": "import pkg.a\n\ndef late():\n    from . import d\n",
        "sub/d.py": "from pkg import a as mod_a\nx = mod_a._hidden\n",
    })
    cycle = find_cycle(import_graph(modules))
    assert cycle is not None and cycle[0] == cycle[-1] and {"pkg.a", "pkg.b"} <= set(cycle)
    problems = private_imports(modules)
    assert any("import _secret" in p for p in problems) and any("pkg.a._hidden" in p for p in problems)
    assert any("import _low" in p for p in problems)
    assert [p.split(" ")[0] for p in imports_in_functions(modules)] == ["pkg.sub.c:4"]
    guarded = _package(tmp_path / "ok", {
        "__init__.py": "",
        "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n",
        "b.py": "from .a import TYPE_CHECKING\n\ndef f():\n    import scipy  # optional dependency: heavy\n",
    })
    assert find_cycle(import_graph(guarded)) is None and imports_in_functions(guarded) == []
