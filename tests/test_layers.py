"""DESIGN.md's layer rule: a module imports only from its own layer and those below."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "ascent"

# bottom to top; errors and _version import nothing from Ascent and serve every layer
LAYERS = {
    "errors": -1,
    "_version": -1,
    "core": 0,
    "nn": 1,
    "buffers": 2,
    "envs": 3,
    "io": 4,
    "runtime": 4,
    "algos": 5,
    "presets": 5,
    "theory": 5,
    "marl": 5,  # multi-agent algorithms, beside algos
    "train": 6,
    "api": 7,
    "cli": 7,
    "__init__": 7,
}


def layer_of(module: str) -> str:
    """'ascent.core.returns' -> 'core'; 'ascent' -> '__init__'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def ascent_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "ascent"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "ascent":
                if node.module == "ascent":  # `from ascent import api` names submodules
                    found += [(node.lineno, f"ascent.{a.name}") for a in node.names]
                else:
                    found.append((node.lineno, node.module))
    return found


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    return ".".join(rel.parts)


def violations(root: Path = PACKAGE) -> list[str]:
    bad = []
    for path in sorted(root.rglob("*.py")):
        own = layer_of(module_name(path, root))
        assert own in LAYERS, f"{path}: folder '{own}' is not in the layer list of DESIGN.md"
        for line, target in ascent_imports(path):
            other = layer_of(target)
            if other not in LAYERS:
                bad.append(f"{path}:{line} imports unknown ascent module {target}")
            elif LAYERS[other] > LAYERS[own]:
                bad.append(
                    f"{path.relative_to(root.parent)}:{line} ({own}) imports {target} "
                    f"({other}), a higher layer"
                )
    return bad


def test_imports_only_go_down_the_layers() -> None:
    assert violations() == []


def test_the_check_catches_an_upward_import(tmp_path: Path) -> None:
    pkg = tmp_path / "ascent"
    (pkg / "core").mkdir(parents=True)
    (pkg / "core" / "bad.py").write_text("from ascent.train.agent import Agent\n")
    (pkg / "train").mkdir()
    (pkg / "train" / "good.py").write_text("import ascent.core.returns\n")
    found = violations(pkg)
    assert len(found) == 1 and "core/bad.py" in found[0] and "ascent.train.agent" in found[0]
