"""The package layout: one package per pipeline stage, imports only downwards, no cycles.

Every ``import`` in ``toolkit/`` (module level and inside functions) is read with ``ast``;
each module belongs to a layer, and a module may import only its own layer's modules or a
lower layer's. A stage may not import another stage's private (underscore) names, and the
module graph has no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "toolkit"

# Lower first. The validation stage sits below the Label Studio stage: pull validates what
# it reads, and validation needs nothing from the server side.
LAYERS: list[tuple[str, set[str]]] = [
    ("shared", {"toolkit.version", "toolkit.errors", "toolkit.progress", "toolkit.atomicio", "toolkit.journal", "toolkit.config",
                "toolkit.parquetio", "toolkit.workspace", "toolkit.articles"}),
    ("scheme", {"toolkit.scheme"}),
    ("ingest", {"toolkit.ingest"}),
    ("validation", {"toolkit.validation"}),
    ("labelstudio", {"toolkit.labelstudio"}),
    ("agreement", {"toolkit.agreement"}),
    ("release", {"toolkit.release"}),
    ("preannotate", {"toolkit.preannotate"}),
    ("front", {"toolkit.scaffold", "toolkit.cli", "toolkit.__main__", "toolkit"}),
]
STAGES = {"toolkit.scheme", "toolkit.ingest", "toolkit.validation", "toolkit.labelstudio", "toolkit.agreement",
          "toolkit.release", "toolkit.preannotate"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    for index, (_, members) in enumerate(LAYERS):
        for member in members:
            if module == member or (member in STAGES and module.startswith(member + ".")):
                return index
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in tests/test_layout.py")


def stage_of(module: str) -> str | None:
    return next((s for s in STAGES if module == s or module.startswith(s + ".")), None)


def imports_of(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every toolkit import in the file."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.split(".")[0] == "toolkit"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "toolkit":
                continue
            # `from toolkit.x import y` where y is a module imports that module, not x's names
            names = []
            for alias in node.names:
                sub = PACKAGE.parent / (target + "." + alias.name).replace(".", "/")
                if sub.with_suffix(".py").exists() or (sub / "__init__.py").exists():
                    found.append((f"{target}.{alias.name}", [], node.lineno))
                else:
                    names.append(alias.name)
            if names:
                found.append((target, names, node.lineno))
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in MODULES:
        edges[module_name(path)] = {target for target, _, _ in imports_of(path) if target != module_name(path)}
    return edges


def test_every_module_has_a_layer_and_a_docstring():
    for path in MODULES:
        layer_of(module_name(path))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if path.name != "__main__.py":
            assert ast.get_docstring(tree), f"{path.relative_to(PACKAGE.parent)} has no module docstring"


@pytest.mark.parametrize("package", sorted(STAGES))
def test_each_stage_package_says_what_it_takes_and_writes(package):
    doc = ast.get_docstring(ast.parse((PACKAGE.parent / package.replace(".", "/") / "__init__.py").read_text()))
    assert doc and len(doc.splitlines()) >= 5
    modules = [p.stem for p in (PACKAGE.parent / package.replace(".", "/")).glob("*.py") if p.stem != "__init__"]
    missing = [m for m in modules if f"``{m}``" not in doc]
    assert not missing, f"{package}'s docstring does not say what {missing} do"


def test_imports_only_go_down():
    upward = []
    for path in MODULES:
        me = module_name(path)
        for target, _, line in imports_of(path):
            if layer_of(target) > layer_of(me):
                upward.append(f"{me}:{line} imports {target} ({LAYERS[layer_of(target)][0]} is above "
                              f"{LAYERS[layer_of(me)][0]})")
    assert not upward, "\n".join(upward)


def test_no_stage_takes_another_stages_private_names():
    private = []
    for path in MODULES:
        me = module_name(path)
        for target, names, line in imports_of(path):
            if stage_of(target) and stage_of(target) != stage_of(me):
                private += [f"{me}:{line} takes {target}.{n}" for n in names if n.startswith("_")]
                if any(part.startswith("_") and part != "__init__" for part in target.split(".")):
                    private.append(f"{me}:{line} imports {target}")
    assert not private, "\n".join(private)


def test_the_module_graph_has_no_cycle():
    edges = graph()
    # A package's __init__ re-exporting its own modules is not a cycle of the design;
    # what counts is module -> module.
    def real(source: str, target: str) -> bool:
        return not target.startswith(source + ".") and target in edges

    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if not real(node, nxt):
                continue
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_the_checks_above_can_fail(tmp_path, monkeypatch):
    """The layer test sees an upward import and a cycle when there is one."""
    fake = tmp_path / "toolkit"
    (fake / "scheme").mkdir(parents=True)
    (fake / "__init__.py").write_text('"""x"""\n')
    (fake / "errors.py").write_text('"""x"""\nfrom .scheme import model\n')
    (fake / "scheme" / "__init__.py").write_text('"""x"""\n')
    (fake / "scheme" / "model.py").write_text('"""x"""\nfrom ..errors import Thing\n')
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake, raising=False)
    globals_ = globals()
    monkeypatch.setitem(globals_, "PACKAGE", fake)
    monkeypatch.setitem(globals_, "MODULES", sorted(fake.rglob("*.py")))
    with pytest.raises(AssertionError, match="shared is above|scheme is above"):
        test_imports_only_go_down()
    with pytest.raises(AssertionError, match="import cycle"):
        test_the_module_graph_has_no_cycle()
