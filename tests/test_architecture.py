"""The layering docs/architecture.md promises: no module imports from a floor above its own."""

import ast
from pathlib import Path

import ecgcore

# Bottom to top; a module belongs to the floor of the longest prefix that names it (docs/architecture.md).
FLOORS = [
    ("ground", ("ecgcore.labels", "ecgcore.leads", "ecgcore.words", "ecgcore.files", "ecgcore.procs",
                "ecgcore.extras")),
    ("signals and configs", ("ecgcore.synth", "ecgcore.config")),
    ("data", ("ecgcore.data",)),
    ("models", ("ecgcore.models", "ecgcore.transfer", "ecgcore.metrics")),
    ("run folders", ("ecgcore.runs", "ecgcore.run_index")),
    ("training and analysis", ("ecgcore.train", "ecgcore.explain", "ecgcore.plots", "ecgcore.rhythm_strip",
                               "ecgcore.export")),
    ("jobs", ("ecgcore.job", "ecgcore.jobs", "ecgcore.sweep", "ecgcore.demo", "ecgcore.study", "ecgcore.rotation",
              "ecgcore.per_rotation",
              "ecgcore.estimates",
              "ecgcore.executors", "ecgcore.local_executor", "ecgcore.inline_executor", "ecgcore.ray_executor")),
    ("interfaces", ("ecgcore.cli", "ecgcore.__main__")),
]
ROOT = Path(ecgcore.__file__).parent


def floor_of(module):
    """The floor index of `module`; None for a module no floor names (then it is checked as an import
    target only, at the top: a lower floor may not lean on it)."""
    best = None
    for level, (_, prefixes) in enumerate(FLOORS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[1]):
                best = (level, len(prefix))
    return None if best is None else best[0]


def imports(path):
    """Every ecgcore module `path` imports, at the top or inside a function (lazy imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("ecgcore."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ecgcore"):
            # `from ecgcore import jobs` / `from ecgcore.data import ptbxl` name modules in their import list
            found.update(f"{node.module}.{a.name}" if node.module in ("ecgcore", "ecgcore.data", "ecgcore.synth")
                         else node.module for a in node.names)
    return found


def module_name(path):
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_module_imports_from_a_floor_above_its_own():
    upward = []
    for path in sorted(ROOT.rglob("*.py")):
        source = module_name(path)
        level = floor_of(source)
        if level is None:
            continue
        for target in imports(path):
            target_level = floor_of(target)
            if target_level is None or target_level > level:
                upward.append(f"{source} ({FLOORS[level][0]}) imports {target}")
    assert upward == []


def test_the_floors_see_what_they_should():
    # the checker itself: a known upward import is caught, a downward one is not
    assert floor_of("ecgcore.data.synthetic") == 2 and floor_of("ecgcore.synth.gan") == 1
    assert floor_of("ecgcore.files") == 0 < floor_of("ecgcore.runs") < floor_of("ecgcore.jobs")
    assert floor_of("ecgcore.somewhere_new") is None
    assert "ecgcore.data.measure" in imports(ROOT / "data" / "synthetic.py")
    assert not any(floor_of(t) > 1 for t in imports(ROOT / "synth" / "gan.py"))


def import_graph():
    """Every ecgcore module -> the ecgcore modules it imports (lazy imports too); a name imported from a
    package (`from ecgcore.synth import PARAMS`) counts as that package."""
    modules = {module_name(path): path for path in ROOT.rglob("*.py")}

    def resolve(name):
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    return {m: {resolve(t) for t in imports(path)} - {m, ""} for m, path in modules.items()}


def circles(graph):
    """The import circles of `graph`: its strongly connected components of more than one module (Tarjan)."""
    order, low, stack, found = {}, {}, [], []

    def visit(module):
        order[module] = low[module] = len(order)
        stack.append(module)
        for target in graph.get(module, ()):
            if target not in order:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], order[target])
        if low[module] == order[module]:
            component = []
            while not component or component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in order:
            visit(module)
    return found


def test_no_import_circle_even_within_a_floor():
    assert circles(import_graph()) == []


def test_the_circle_check_sees_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
