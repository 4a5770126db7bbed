"""The package tree shows the layers, and imports only point down (or sideways within a
package). A new import that points up, or a module-level import circle, fails here."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "kzcarrier"

# Lowest first. A module may import from its own layer or any layer below it.
LAYERS = [
    {"errors", "numbers", "json_copy", "logs", "metrics", "plugins"},
    {"couch"},
    {"model"},
    {"carriers", "providers", "amqp"},
    {"ops"},
    {"search"},
    {"engine"},
    {"sync", "simulators", "toolkit"},
    {"app", "demo"},
    {"cli", "__main__"},
]


def layer_of(top: str) -> int:
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"kzcarrier.{top} is in no layer: add it to LAYERS in {__file__}")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, top_level_only: bool) -> set[str]:
    """Absolute kzcarrier modules `path` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    mod = module_name(path).split(".")
    package = mod if path.name == "__init__.py" else mod[:-1]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out = set()
    for node in nodes:
        if isinstance(node, ast.If) and top_level_only:   # `if TYPE_CHECKING:` is not a cycle
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "kzcarrier":
                target = node.module.split(".")
            else:
                continue
            for alias in node.names:          # `from . import protocol` imports a module
                candidate = ".".join(target + [alias.name])
                out.add(candidate if _exists(candidate) else ".".join(target))
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "kzcarrier")
    return out


def _exists(name: str) -> bool:
    rel = Path(*name.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_import_points_down_the_layers():
    wrong = []
    for name, path in modules().items():
        if name == "kzcarrier":
            continue
        here = layer_of(name.split(".")[1])
        for target in imports(path, top_level_only=False):
            parts = target.split(".")
            if len(parts) < 2:
                continue
            if layer_of(parts[1]) > here:
                wrong.append(f"{name} imports {target}")
    assert not wrong, "imports that point up the layers:\n" + "\n".join(wrong)


def test_no_import_circles_at_module_level():
    graph = {name: {t for t in imports(path, top_level_only=True) if t != name}
             for name, path in modules().items()}
    # a package's __init__ is imported by its submodules: only follow real edges
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if nxt in graph and not state.get(nxt):
                visit(nxt)
        path.pop()
        state[node] = 2

    for name in graph:
        if not state.get(name):
            visit(name)


def test_the_layer_check_sees_an_upward_import(tmp_path):
    """The check itself can fail: an engine import inside the model is caught."""
    fake = PACKAGE / "model" / "_layer_probe.py"
    fake.write_text("from ..engine import protocol\n")
    try:
        found = imports(fake, top_level_only=False)
    finally:
        fake.unlink()
    assert "kzcarrier.engine.protocol" in found
    assert layer_of("engine") > layer_of("model")
