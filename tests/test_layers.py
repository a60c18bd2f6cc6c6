"""docs/design.md's layer rule: a module imports only from its own layer and those
below, and no module of `ascent/` imports one that imports it back (directly or
through others). Every import counts: at the top, inside a function, or only for type
checking."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "ascent"

# bottom to top; errors, _version and _xla import nothing from Ascent and serve every layer
LAYERS = {
    "errors": -1,
    "_version": -1,
    "_xla": -1,
    "core": 0,
    "nn": 1,
    "buffers": 2,
    "envs": 3,
    "io": 4,
    "runtime": 4,
    "algos": 5,
    "theory": 5,
    "marl": 6,  # team algorithms, built on algos
    "catalog": 7,  # every algorithm by name, presets, configs from settings
    "train": 8,
    "tuning": 9,  # sweeps and studies, built on the loops
    "api": 10,
    "cli": 10,
    "__init__": 10,
}


def layer_of(module: str) -> str:
    """'ascent.core.returns' -> 'core'; 'ascent' -> '__init__'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path, root: Path) -> str:
    """ascent/core/returns.py -> 'ascent.core.returns'; ascent/core/__init__.py ->
    'ascent.core'."""
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path = PACKAGE) -> dict[str, Path]:
    return {module_name(path, root): path for path in sorted(root.rglob("*.py"))}


def ascent_imports(path: Path, known: set[str]) -> list[tuple[int, str]]:
    """(line, module) of every import of an Ascent module in `path`: `from ascent.x
    import y` names `ascent.x.y` when that is a module, else `ascent.x`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "ascent"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "ascent":
                for a in node.names:
                    full = f"{node.module}.{a.name}"
                    found.append((node.lineno, full if full in known else node.module))
    return found


def import_graph(root: Path = PACKAGE) -> dict[str, dict[str, int]]:
    """module -> {module it imports: first line}, Ascent's modules only."""
    mods = modules(root)
    graph: dict[str, dict[str, int]] = {}
    for name, path in mods.items():
        graph[name] = {}
        for line, target in ascent_imports(path, set(mods)):
            if target != name:
                graph[name].setdefault(target, line)
    return graph


def violations(root: Path = PACKAGE) -> list[str]:
    bad = []
    for name, targets in import_graph(root).items():
        own = layer_of(name)
        path = modules(root)[name].relative_to(root.parent)
        assert own in LAYERS, f"{path}: folder '{own}' is not in the layer list of docs/design.md"
        for target, line in targets.items():
            other = layer_of(target)
            if other not in LAYERS:
                bad.append(f"{path}:{line} imports unknown ascent module {target}")
            elif LAYERS[other] > LAYERS[own]:
                bad.append(f"{path}:{line} ({own}) imports {target} ({other}), a higher layer")
    return bad


def cycles(root: Path = PACKAGE) -> list[list[str]]:
    """The groups of modules that import each other, directly or through others (the
    strongly connected components of more than one module, Tarjan's algorithm)."""
    graph = import_graph(root)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in graph:
                continue  # an unknown module: `violations` reports it
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_imports_only_go_down_the_layers() -> None:
    assert violations() == []


def test_no_module_imports_one_that_imports_it_back() -> None:
    assert cycles() == []


def test_the_check_catches_an_upward_import(tmp_path: Path) -> None:
    pkg = tmp_path / "ascent"
    (pkg / "core").mkdir(parents=True)
    (pkg / "core" / "bad.py").write_text("from ascent.train.agent import Agent\n")
    (pkg / "train").mkdir()
    (pkg / "train" / "good.py").write_text("import ascent.core.returns\n")
    found = violations(pkg)
    assert len(found) == 1 and "core/bad.py" in found[0] and "ascent.train.agent" in found[0]


def test_marl_sits_above_algos(tmp_path: Path) -> None:
    pkg = tmp_path / "ascent"
    (pkg / "algos").mkdir(parents=True)
    (pkg / "algos" / "registry.py").write_text("from ascent.marl import MAPPO\n")
    (pkg / "marl").mkdir()
    (pkg / "marl" / "__init__.py").write_text("MAPPO = None\n")
    found = violations(pkg)
    assert len(found) == 1 and "algos/registry.py" in found[0]


def test_the_check_catches_a_cycle(tmp_path: Path) -> None:
    """Three modules of one layer in a ring (one import inside a function, one through
    a package's name), beside a module that only imports them: one cycle of three."""
    train = tmp_path / "ascent" / "train"
    train.mkdir(parents=True)
    (train / "__init__.py").write_text("from ascent.train.agent import Agent\n")
    (train / "agent.py").write_text("def load():\n    from ascent.train import runs\n")
    (train / "runs.py").write_text("from ascent.train.runner import Runner\n")
    (train / "runner.py").write_text("from ascent.train import agent\n")
    (train / "cli.py").write_text("from ascent.train.agent import Agent\n")
    assert violations(tmp_path / "ascent") == []
    assert cycles(tmp_path / "ascent") == [
        ["ascent.train.agent", "ascent.train.runner", "ascent.train.runs"]
    ]
