"""The package's layout: layers that are folders, importing only downwards, no cycle.

Each subpackage of ``fastdln`` is a layer (README "Layout"), declared here bottom to top:
maths (kernels, formulas, checks) <- engines <- core (settings, data, trainer, io) <- apps
(command line, bench, grids, estimator, paper reproductions). A module imports only from its
own layer and the ones below. At the top level: the facade, ``__main__`` and the old paths
(modules at the paths of before the folders, each making itself the moved module: docs/
stability.md) above every layer, ``_version`` below them all. Every import inside
``fastdln``, also one inside a function, counts; one under ``if TYPE_CHECKING:``
(annotations only, never run) does not.
"""

import ast
import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "fastdln"

LAYERS = ["maths", "engines", "core", "apps"]  # bottom to top
FACADE = "fastdln"  # fastdln/__init__.py: the public names, imported from every layer


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
SOURCES = {name: path.read_text() for name, path in MODULES.items()}
# The paths of before the layers' folders: each module there makes itself the moved one.
OLD_PATHS = {name for name, source in SOURCES.items() if "sys.modules[__name__] = " in source}
TOP = {FACADE, "fastdln.__main__"} | OLD_PATHS  # above every layer
BASE = {"fastdln._version"}  # below every layer: imports no fastdln module


def layer_of(name):
    """The layer's rank (its index in ``LAYERS``); -1 below them all, ``len(LAYERS)`` above,
    None for a module in no layer."""
    if name in TOP or name in BASE:
        return len(LAYERS) if name in TOP else -1
    layer = name.split(".")[1]
    return LAYERS.index(layer) if layer in LAYERS else None


def _type_checking_nodes(tree):
    """Every node under an ``if TYPE_CHECKING:`` block."""
    inside = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.If) and isinstance(node.test, (ast.Name, ast.Attribute))
                and "TYPE_CHECKING" in ast.unparse(node.test)):
            inside |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
    return inside


def _imports(name, sources=SOURCES, run_time_only=False):
    """``(imported module, imported names, line)`` for every import in module ``name``."""
    is_package = name == FACADE or MODULES.get(name, PACKAGE).name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    tree = ast.parse(sources[name])
    skipped = _type_checking_nodes(tree) if run_time_only else set()
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = [alias.name for alias in node.names]
            submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in sources]
            if submodules:  # ``from . import reference``: the submodules themselves
                found += [(module, [], node.lineno) for module in submodules]
                names = [n for n in names if f"{base}.{n}" not in sources]
            if names:
                found.append((base, names, node.lineno))
    return [(module, names, line) for module, names, line in found
            if module == "fastdln" or module.startswith("fastdln.")]


def import_cycle(sources=SOURCES):
    """One import cycle (a list of modules, the first repeated last), or None."""
    graph = {name: {module for module, _, _ in _imports(name, sources, run_time_only=True)
                    if module in sources} for name in sources}
    state = dict.fromkeys(graph, "new")

    def visit(node, path):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state[target] == "open":
                return path[path.index(target):] + [target]
            if state[target] == "new":
                cycle = visit(target, path + [target])
                if cycle:
                    return cycle
        state[node] = "done"
        return None

    for node in sorted(graph):
        if state[node] == "new":
            cycle = visit(node, [node])
            if cycle:
                return cycle
    return None


def upward_imports(sources=SOURCES):
    """Every run-time import of a module from a higher layer, or of the facade."""
    upward = []
    for name in sources:
        if name == FACADE:
            continue
        for module, _, line in _imports(name, sources, run_time_only=True):
            if module == FACADE:
                upward.append(f"{name}:{line} imports the package facade 'fastdln'")
            elif module in sources and layer_of(module) > layer_of(name):
                upward.append(f"{name}:{line} (layer {layer_of(name)}) imports {module} "
                              f"(layer {layer_of(module)})")
    return upward


def test_the_layers_are_the_subpackages():
    folders = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py")
                     if f"fastdln.{p.parent.name}" not in OLD_PATHS)
    assert sorted(LAYERS) == folders, "a subpackage of fastdln is a layer: add it to LAYERS"
    unplaced = [name for name in MODULES if layer_of(name) is None]
    assert not unplaced, unplaced


def test_readme_lists_the_layers_in_their_order():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\d\. \*\*.*?`fastdln/(\w+)/`", section, flags=re.M)
    assert listed == LAYERS


def test_no_import_cycle():
    cycle = import_cycle()
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_layers_import_only_downwards():
    upward = upward_imports()
    assert not upward, "\n".join(upward)


def test_the_checks_find_a_planted_upward_import_and_cycle():
    """The layout checks are not vacuous: an upward import and a cycle planted in a copy of
    the sources are found."""
    planted = dict(SOURCES)
    planted["fastdln.maths.theory"] += "\nfrom ..apps import cli\n"
    assert any(line.startswith("fastdln.maths.theory:") and "fastdln.apps.cli" in line
               for line in upward_imports(planted))
    assert import_cycle(planted) is not None  # cli imports theory (through the core)
    guarded = dict(SOURCES)
    guarded["fastdln.maths.theory"] += ("\nfrom typing import TYPE_CHECKING\n"
                                        "if TYPE_CHECKING:\n    from ..apps import cli\n")
    assert upward_imports(guarded) == []


def test_an_old_path_holds_nothing_but_its_redirection():
    """docs/stability.md: a shim imports the new module, warns (except the quiet ones) and
    makes the old name the new module; no code of its own to drift."""
    assert OLD_PATHS >= {"fastdln.settings", "fastdln.trainer", "fastdln.experiments",
                         "fastdln.losses", "fastdln.paper"}
    for name in OLD_PATHS:
        tree = ast.parse(SOURCES[name])
        for node in tree.body[1:]:  # after the docstring
            redirect = (isinstance(node, ast.Assign)
                        and ast.unparse(node.targets[0]).startswith("sys.modules["))
            warn = isinstance(node, ast.Expr) and ast.unparse(node).startswith("warnings.warn(")
            assert isinstance(node, (ast.Import, ast.ImportFrom)) or redirect or warn, \
                f"{name}:{node.lineno}: {ast.unparse(node)}"


OLD_PATH_SCRIPT = r"""
import importlib, json, sys, warnings
report = {}
for old in json.loads(sys.argv[1]):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(compile(f"import {old}", "<user code>", "exec"))
    module = sys.modules[old]
    same = importlib.import_module(module.__name__) is module
    report[old] = dict(module=module.__name__, same=same,
                       warnings=[[str(w.message), w.filename] for w in caught
                                 if w.category is DeprecationWarning])
print(json.dumps(report))
"""


def test_an_old_path_gives_the_moved_module_with_a_warning_at_the_import():
    old_paths = sorted(OLD_PATHS) + ["fastdln.paper.datasets"]
    result = subprocess.run([sys.executable, "-c", OLD_PATH_SCRIPT, json.dumps(old_paths)],
                            capture_output=True, text=True, check=True)
    report = json.loads(result.stdout)
    quiet = {"fastdln.reference", "fastdln.theory", "fastdln.losses",  # the facade's modules
             "fastdln.cli"}  # the command of an editable install made before the folders
    for old in old_paths:
        new = report[old]["module"]
        assert new == old.replace("fastdln.", f"fastdln.{new.split('.')[1]}.", 1), old
        assert report[old]["same"] and new in MODULES and layer_of(new) < len(LAYERS)
        if old in quiet or old == "fastdln.paper.datasets":  # its warning came with paper's
            assert report[old]["warnings"] == [], old
        else:
            assert report[old]["warnings"] == [
                [f"{old} moved to {new}; import it from there", "<user code>"]], old


def test_no_module_imports_another_modules_private_names():
    """Private modules of the package may be imported; a ``_name`` inside a module may not."""
    found = []
    for name in MODULES:
        for module, names, line in _imports(name):
            private = [n for n in names if n.startswith("_") and n != "__version__"]
            if private and module != name:
                found.append(f"{name}:{line} imports {private} from {module}")
        tree = ast.parse(MODULES[name].read_text())
        aliases = {alias.asname or alias.name.rpartition(".")[2]
                   for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                   for alias in node.names if _is_module(node, alias, name)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                found.append(f"{name}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert not found, "\n".join(found)


def _is_module(node, alias, importer):
    """Whether ``from ... import alias`` in ``importer`` imports a fastdln module."""
    package = importer if MODULES[importer].name == "__init__.py" else importer.rpartition(".")[0]
    base = node.module or ""
    if node.level:
        anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join(anchor + ([base] if base else []))
    return f"{base}.{alias.name}" in MODULES


def test_every_public_module_declares_all():
    missing = []
    for name, path in MODULES.items():
        if any(part.startswith("_") for part in name.split(".")[1:]) or name in OLD_PATHS:
            continue  # private modules (and __main__), old paths
        tree = ast.parse(path.read_text())
        declared = any(isinstance(t, ast.Name) and t.id == "__all__" for node in tree.body
                       for t in (node.targets if isinstance(node, ast.Assign) else
                                 [node.target] if isinstance(node, ast.AnnAssign) else []))
        if not declared:
            missing.append(name)
    assert not missing, f"public modules without __all__: {missing}"


def test_readme_layout_names_every_module():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    absent = [name for name in MODULES if name not in TOP  # as FOLDER/module: the last two
              and "/".join(name.split(".")[1:][-2:]) not in section]
    assert not absent, f"README's Layout section does not mention {absent}"


def test_cited_documents_are_in_the_repository():
    """Every ``docs/...`` file that code, docstrings, tests, benchmarks and README cite
    exists here, and none cites the shared MATH.md."""
    import re

    sources = [*PACKAGE.rglob("*.py"), *(ROOT / "tests").rglob("*.py"),
               *(ROOT / "benchmarks").rglob("*.py"), ROOT / "README.md"]
    cited = set()
    for path in [*sources, *(ROOT / "docs").glob("*.md")]:
        cited |= set(re.findall(r"docs/[\w./-]+\.(?:md|png|json)", path.read_text()))
    missing = sorted(c for c in cited if not (ROOT / c).exists())
    assert not missing, missing
    for path in sources:
        if path.name == "test_layout.py":
            continue
        assert "MATH.md" not in path.read_text(), f"{path} cites MATH.md, not in this project"


def test_no_dead_function_in_the_package():
    """vulture over the package, its tests and benchmarks finds no function, method, class or
    property of ``fastdln`` that nothing uses (public API counts as used once a test or a
    benchmark calls it; Python's own hooks, ``__name__``, are called by Python)."""
    import vulture

    scan = vulture.Vulture()
    scan.scavenge([str(PACKAGE), str(ROOT / "tests"), str(ROOT / "benchmarks")])
    dead = [f"{item.filename}:{item.first_lineno}: {item.message}"
            for item in scan.get_unused_code(min_confidence=60)
            if item.typ in ("function", "method", "class", "property")
            and not item.name.startswith("__")
            and PACKAGE in pathlib.Path(item.filename).resolve().parents]
    assert not dead, "\n".join(dead)


# Suites about the package as a whole rather than one module.
CROSS_CUTTING = {"layout", "packaging", "reliability", "validation"}


def test_the_test_suite_follows_the_package():
    """Every ``tests/test_NAME.py`` tests the module or package ``fastdln.LAYER.NAME``
    (``paper_NAME``: ``fastdln.apps.paper.NAME``; ``engines_registry``:
    ``fastdln.engines.registry``; a ``_topic`` suffix names one subject of a module, as in
    ``test_engines_error_measure.py``), or is one of the cross-cutting suites."""
    modules = {name.split(".", 2)[-1].lstrip("_").replace(".", "_") for name in MODULES
               if name not in TOP}  # a package by its folder's name (``engines``)
    stray = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        name = path.stem[len("test_"):]
        parts = name.split("_")
        known = {"_".join(parts[:k]) for k in range(1, len(parts) + 1)} & modules
        if name not in CROSS_CUTTING and not known:
            stray.append(path.name)
    assert not stray, f"tests that name no module of fastdln: {stray}"


def test_no_jitted_function_takes_more_than_16_arguments():
    """Kernels take a workspace (a few flat arrays), not dozens of loose arrays (stumpy's
    widest kernel takes 16): every numba function of the package, by its Python signature."""
    import importlib
    import inspect
    import pkgutil

    from numba.core.registry import CPUDispatcher

    dispatchers = {}
    layers = [importlib.import_module(f"fastdln.{layer}") for layer in LAYERS]
    for info in (info for layer in layers
                 for info in pkgutil.walk_packages(layer.__path__, layer.__name__ + ".")):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if isinstance(value, CPUDispatcher):
                dispatchers[f"{value.py_func.__module__}.{name}"] = value
    assert any(name.endswith("_kernels.bcgd_updates") for name in dispatchers)
    wide = {name: len(inspect.signature(d.py_func).parameters)
            for name, d in dispatchers.items() if len(inspect.signature(d.py_func).parameters) > 16}
    assert not wide, wide
