"""The import graph (docs/design.md): no cycles, counting imports inside functions too, and the
dependency direction reprokit <- hourglass <- segmentation, reprokit <- handpose."""
import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("reprokit", "hourglass", "handpose", "segmentation", "logocap")
#: package -> the project packages it may import
ALLOWED = {"reprokit": set(), "hourglass": {"reprokit"}, "handpose": {"reprokit"},
           "segmentation": {"reprokit", "hourglass"}, "logocap": {"reprokit", "hourglass"}}


def _modules():
    mods = {}
    for pkg in PACKAGES:
        for folder, _, files in os.walk(os.path.join(ROOT, pkg)):
            for f in files:
                if f.endswith(".py"):
                    path = os.path.join(folder, f)
                    name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                    mods[name[:-len(".__init__")] if name.endswith(".__init__") else name] = path
    return mods


def _graph():
    mods = _modules()

    def resolve(name):
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name

    graph = {m: set() for m in mods}
    for mod, path in mods.items():
        for node in ast.walk(ast.parse(open(path, encoding="utf-8").read(), path)):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                target = resolve(name) if name.split(".")[0] in PACKAGES else None
                # a module importing its own package's __init__ names is not an edge
                if target and target != mod and not mod.startswith(target + "."):
                    graph[mod].add(target)
    return graph


def _cycles(graph):
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
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
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles_even_through_imports_inside_functions():
    assert _cycles(_graph()) == []


def test_dependency_direction():
    bad = sorted(f"{m} imports {t}" for m, targets in _graph().items() for t in targets
                 if t.split(".")[0] != m.split(".")[0]
                 and t.split(".")[0] not in ALLOWED[m.split(".")[0]])
    assert not bad, bad


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


#: Module-level notes that give the reason for every import inside a function of the module
#: (the CLIs and the table runners; docs/design.md, import policy).
MODULE_REASONS = ("# Lazy imports below", "# The commands import the library inside their functions",
                  "# Modules that load TensorFlow are imported inside the functions")


def _unexplained_lazy_imports():
    bad = []
    for mod, path in sorted(_modules().items()):
        text = open(path, encoding="utf-8").read()
        if any(note in text for note in MODULE_REASONS):
            continue
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text, path)):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    window = lines[max(0, inner.lineno - 4):inner.lineno]
                    if not any("lazy" in line.lower() for line in window):
                        bad.append(f"{mod}:{inner.lineno}: {lines[inner.lineno - 1].strip()}")
    return bad


def test_every_import_inside_a_function_says_why():
    """Lazy imports only where they keep `repro list` / `--help` fast (or load an optional
    dependency), each with its reason on the line or just above it."""
    bad = _unexplained_lazy_imports()
    assert not bad, "imports inside functions without a reason:\n" + "\n".join(bad)
