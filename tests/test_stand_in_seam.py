"""The product does not reach into the stand-in: nothing the Lambdas or the deploy path import is coursehub_local.

Every import is read from the source (those inside functions too) and followed through the project's own modules,
from every module under ``chalicelib/``, ``app.py``, and the deploy path (``coursehub.packaging``,
``coursehub.deploy``, ``coursehub.deploy_plan`` and the ``coursehub package/plan/deploy`` commands).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STAND_IN = "coursehub_local"
DEPLOY_MODULES = ("coursehub.packaging", "coursehub.deploy", "coursehub.deploy_plan")
DEPLOY_COMMANDS = ("_package", "_deploy", "_parameter")  # in coursehub/cli.py


def source_file(module: str) -> Path | None:
    """The project file of ``module``, or None for a module outside the project (or a name in a module)."""
    base = ROOT.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imports(node: ast.AST, module: str) -> set[str]:
    """Every module name an import anywhere under ``node`` may load (``from a import b`` gives a and a.b)."""
    package = module if source_file(module) and source_file(module).name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for found in ast.walk(node):
        if isinstance(found, ast.Import):
            names.update(alias.name for alias in found.names)
        elif isinstance(found, ast.ImportFrom):
            if found.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - found.level + 1] + ([found.module] if found.module else []))
            else:
                base = found.module
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in found.names)
    return names


def stand_in_imports(roots: dict[str, set[str]]) -> dict[str, list[str]]:
    """Stand-in modules reached from ``roots`` (importer -> imported names), following the project's modules."""
    found: dict[str, list[str]] = {}
    queue = [(importer, name) for importer, names in roots.items() for name in sorted(names)]
    seen: set[str] = set()
    while queue:
        importer, name = queue.pop()
        if name == STAND_IN or name.startswith(STAND_IN + "."):
            found.setdefault(importer, []).append(name)
            continue
        path = source_file(name)
        if path is None or name in seen:
            continue
        seen.add(name)
        queue.extend((name, imported) for imported in imports(ast.parse(path.read_text()), name))
    return found


def product_roots() -> dict[str, set[str]]:
    modules = ["app", *DEPLOY_MODULES,
               *(".".join(p.relative_to(ROOT).with_suffix("").parts) for p in (ROOT / "chalicelib").rglob("*.py"))]
    roots = {module.removesuffix(".__init__"): {module.removesuffix(".__init__")} for module in modules}
    cli = ast.parse((ROOT / "coursehub" / "cli.py").read_text())
    commands = {node.name: node for node in cli.body if isinstance(node, ast.FunctionDef)}
    for name in DEPLOY_COMMANDS:
        roots[f"coursehub.cli.{name}"] = imports(commands[name], "coursehub.cli")
    return roots


def test_the_roots_are_there():
    roots = product_roots()
    assert len([r for r in roots if r.startswith("chalicelib.")]) > 20
    for module in ("app", *DEPLOY_MODULES):
        assert source_file(module), module


def test_nothing_the_product_or_the_deploy_path_imports_is_the_stand_in():
    assert stand_in_imports(product_roots()) == {}


@pytest.mark.parametrize("source", [
    "from coursehub_local import tools",
    "import coursehub_local.seed",
    "def package():\n    from coursehub_local.seed import chalice_stage_config\n",
    "from coursehub import cli",  # through a project module: cli's local commands import the stack
])
def test_the_check_sees_a_stand_in_import(source):
    assert stand_in_imports({"example": imports(ast.parse(source), "coursehub.example")}) != {}
