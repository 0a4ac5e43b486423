"""The import graph: no cycles (imports inside functions count), and each layer imports only the ones
under it; every module is named in docs/architecture.md."""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Folders in the order they build on each other: a module may import its own layer and those before it.
ENGINE_LAYERS = {"core": 0, "data": 1, "runs": 2, "studies": 3, "understand": 3, "export": 3, "cli": 4}
APP_LAYERS = {"tasks": 0, "state": 1, "views": 2, "tour": 3, "window": 4, "bench": 5}
# the packages' own entry points sit on top
TOPS = {"engine": 4, "engine.__main__": 5, "workbench": 9, "workbench.__main__": 9, "workbench.app": 8}
QT = ("PySide6", "pyqtgraph", "shiboken6")


def modules():
    out = {}
    for pkg in ("engine", "workbench"):
        for p in (ROOT / pkg).rglob("*.py"):
            if "templates" in p.parts:
                continue
            parts = list(p.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = p
    return out


def _resolve(current, is_package, node):
    if node.level == 0:
        return node.module
    parts = current.split(".")
    if not is_package:
        parts = parts[:-1]
    parts = parts[:len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def imports_of(name, path, mods):
    """The project modules ``name`` imports anywhere in its file, and the outside roots it imports."""
    tree = ast.parse(path.read_text())
    found, outside = set(), set()

    def add(target):
        while target and target not in mods:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                outside.add(a.name.split(".")[0])
                add(a.name)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, path.name == "__init__.py", node)
            if base is None:
                continue
            outside.add(base.split(".")[0])
            for a in node.names:
                add(f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base)
    return found, outside


def graph():
    mods = modules()
    edges, outside = {}, {}
    for name, path in mods.items():
        edges[name], outside[name] = imports_of(name, path, mods)
    return edges, outside


def cycles(edges):
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in edges.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def layer(name):
    if name in TOPS:
        return TOPS[name]
    top, _, rest = name.partition(".")
    first = rest.split(".")[0]
    return (ENGINE_LAYERS if top == "engine" else APP_LAYERS).get(first)


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_one_that_imports_it_back():
    edges, _ = graph()
    assert cycles(edges) == []


def test_every_module_lives_in_a_layer_and_imports_only_those_below():
    edges, _ = graph()
    unplaced = sorted(m for m in edges if layer(m) is None)
    assert not unplaced, f"modules outside the layer folders: {unplaced}"
    upward = []
    for m, deps in edges.items():
        for d in deps:
            if d.split(".")[0] != m.split(".")[0]:
                continue
            siblings = layer(d) == layer(m) == 3 and m.startswith("engine.") and d.split(".")[1] != m.split(".")[1]
            if layer(d) > layer(m) or siblings:
                upward.append(f"{m} -> {d}")
    assert not upward, "imports against the layers:\n" + "\n".join(sorted(upward))


def test_the_engine_never_imports_the_app_or_qt_and_tasks_never_import_qt():
    edges, outside = graph()
    for m in edges:
        if m.startswith("engine"):
            assert not any(d.startswith("workbench") for d in edges[m]), m
            assert not outside[m] & set(QT), m
        if m.startswith("workbench.tasks"):
            assert not outside[m] & set(QT), f"{m} imports Qt; tasks are plain data"


@pytest.mark.parametrize("pkg", ["engine", "workbench"])
def test_docs_architecture_names_every_module(pkg):
    text = (ROOT / "docs" / "architecture.md").read_text()
    missing = []
    for m, path in modules().items():
        if not m.startswith(pkg) or path.name == "__main__.py":
            continue
        rel = path.relative_to(ROOT)
        shown = rel.parent.as_posix() + "/" if path.name == "__init__.py" else rel.as_posix()
        if shown not in text and rel.with_suffix("").as_posix() not in text:
            missing.append(shown)
    assert not missing, "docs/architecture.md does not name: " + ", ".join(sorted(missing))
