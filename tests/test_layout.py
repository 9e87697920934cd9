"""The package's layout: three layers importing only downwards, no cycle, private names kept.

The layers (README "Layout"): maths (kernels, reference, theory, losses, optimum formulas,
initializations, input checks) <- core (settings, problem, engines, trainer, training, io) <-
applications (command line, bench, grids, estimator, progress, paper reproductions). Every
import inside ``fastdln``, also one inside a function, counts.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "fastdln"

MATHS, CORE, APPS = 1, 2, 3
LAYERS = {
    "fastdln._checks": MATHS, "fastdln._kernels": MATHS, "fastdln._version": MATHS,
    "fastdln._cache": MATHS,
    "fastdln.init": MATHS, "fastdln.losses": MATHS, "fastdln.optimum": MATHS,
    "fastdln.reference": MATHS, "fastdln.theory": MATHS, "fastdln.factor": MATHS,
    "fastdln.synthetic": MATHS,
    "fastdln.settings": CORE, "fastdln.methods": CORE, "fastdln.data": CORE,
    "fastdln.problem": CORE, "fastdln.linear_map": CORE,
    "fastdln._engines": CORE, "fastdln.threads": CORE,
    "fastdln.trainer": CORE, "fastdln.runner": CORE, "fastdln.io": CORE,
    "fastdln.bench": APPS, "fastdln.cli": APPS, "fastdln.__main__": APPS,
    "fastdln.estimator": APPS, "fastdln.experiments": APPS, "fastdln.progress": APPS,
    "fastdln.readers": APPS, "fastdln.tables": APPS, "fastdln.warmup": APPS,
    "fastdln.paper": APPS, "fastdln.paper.claims": APPS, "fastdln.paper.figure_data": APPS,
    "fastdln.paper.datasets": APPS, "fastdln.paper.figures": APPS, "fastdln.paper.plots": APPS,
    "fastdln.paper.measures": APPS, "fastdln.paper.gd_rates": APPS, "fastdln.paper.runs": APPS,
    "fastdln.paper.verdicts": APPS, "fastdln.paper.depth_figures": APPS,
    "fastdln.paper.gd_figures": APPS, "fastdln.paper.architecture_figures": APPS,
}
FACADE = "fastdln"  # fastdln/__init__.py: the public names, imported from every layer


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name):
    """``(imported module, imported names, line)`` for every import in module ``name``."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = [alias.name for alias in node.names]
            submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in MODULES]
            if submodules:  # ``from . import reference``: the submodules themselves
                found += [(module, [], node.lineno) for module in submodules]
                names = [n for n in names if f"{base}.{n}" not in MODULES]
            if names:
                found.append((base, names, node.lineno))
    return [(module, names, line) for module, names, line in found
            if module == "fastdln" or module.startswith("fastdln.")]


def _graph():
    return {name: {module for module, _, _ in _imports(name) if module in MODULES}
            for name in MODULES}


def test_every_module_has_a_layer():
    unassigned = sorted(set(MODULES) - set(LAYERS) - {FACADE})
    assert not unassigned, f"add these modules to LAYERS and README's Layout: {unassigned}"
    assert not set(LAYERS) - set(MODULES), "LAYERS names modules that do not exist"


def test_no_import_cycle():
    graph = _graph()
    state = dict.fromkeys(graph, "new")

    def visit(node, path):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state[target] == "open":
                cycle = path[path.index(target):] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if state[target] == "new":
                visit(target, path + [target])
        state[node] = "done"

    for node in sorted(graph):
        if state[node] == "new":
            visit(node, [node])


def test_layers_import_only_downwards():
    upward = []
    for name in MODULES:
        if name == FACADE:
            continue
        for module, _, line in _imports(name):
            if module == FACADE:
                upward.append(f"{name}:{line} imports the package facade 'fastdln'")
            elif module in LAYERS and LAYERS[module] > LAYERS[name]:
                upward.append(f"{name}:{line} (layer {LAYERS[name]}) imports {module} "
                              f"(layer {LAYERS[module]})")
    assert not upward, "\n".join(upward)


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
        if any(part.startswith("_") for part in name.split(".")[1:]):
            continue  # private modules (and __main__)
        tree = ast.parse(path.read_text())
        declared = any(isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
            for node in tree.body)
        if not declared:
            missing.append(name)
    assert not missing, f"public modules without __all__: {missing}"


def test_readme_layout_names_every_module():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    absent = [name for name in MODULES if name != FACADE and name != "fastdln.__main__"
              and name.replace("fastdln.", "").replace(".", "/") not in section]
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
    """Every ``tests/test_NAME.py`` tests the module ``fastdln.NAME`` (``paper_NAME``:
    ``fastdln.paper.NAME``; a ``_topic`` suffix names one subject of a module, as in
    ``test_engines_error_measure.py``), or is one of the cross-cutting suites."""
    modules = {name.split(".", 1)[1].lstrip("_").replace(".", "_") for name in MODULES
               if name != FACADE and not MODULES[name].name == "__init__.py"}
    stray = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        name = path.stem[len("test_"):]
        parts = name.split("_")
        known = {"_".join(parts[:k]) for k in range(1, len(parts) + 1)} & modules
        if name not in CROSS_CUTTING and not known:
            stray.append(path.name)
    assert not stray, f"tests that name no module of fastdln: {stray}"
