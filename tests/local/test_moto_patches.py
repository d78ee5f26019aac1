"""moto's internals are reached only from moto_patches, and every one it reaches is still in the pinned moto.

What is checked is read from ``moto_patches.py`` itself: each name it imports from moto, each attribute path
it reads on one, and each attribute it replaces (``_replace``/``_wrap``), so a new patch is checked once written.
"""
from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import moto
import pytest

import coursehub_local
from coursehub_local import moto_patches

STAND_IN = Path(coursehub_local.__file__).parent
PUBLIC = {"moto", "moto.server"}  # mock_aws, ThreadedMotoServer: moto's documented API


def _imports(function: ast.AST) -> dict[str, tuple[str, str | None]]:
    """Local name -> (moto module, name in it or None) of the moto imports in one function."""
    names = {}
    for node in ast.walk(function):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "moto":
            names.update({alias.asname or alias.name: (node.module, alias.name) for alias in node.names})
        elif isinstance(node, ast.Import):
            names.update({alias.asname: (alias.name, None) for alias in node.names
                          if alias.asname and alias.name.split(".")[0] == "moto"})
    return names


def _chain(node: ast.AST) -> list[str] | None:
    """``a.b.c`` as ["a", "b", "c"]; None for anything that is not a dotted name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return [node.id, *reversed(parts)] if isinstance(node, ast.Name) else None


def uses(source: str) -> set[tuple[str, str]]:
    """(moto module, dotted attribute path in it) for every moto name the source imports, reads or replaces."""
    found = set()
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, (ast.FunctionDef, ast.Module)):
            continue
        imported = _imports(function)
        for module, name in imported.values():
            found.add((module, name or ""))
        for node in ast.walk(function):
            chain = None
            if isinstance(node, ast.Attribute):
                chain = _chain(node)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                    node.func.id in ("_replace", "_wrap") and isinstance(node.args[1], ast.Constant):
                chain = (_chain(node.args[0]) or []) + [node.args[1].value]
            if chain and chain[0] in imported:
                module, name = imported[chain[0]]
                found.add((module, ".".join(filter(None, [name, *chain[1:]]))))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_add":
                chain = (_chain(node.args[0]) or []) + [node.args[1].value]  # its owner is checked, not the name
            if chain and chain[0] in imported and isinstance(node, ast.Call) and len(node.args) > 2:
                # the replacement's ``self.x``: what it reads on the instance of the class it goes into
                module, name = imported[chain[0]]
                owner = ".".join(filter(None, [name, *chain[1:-1]]))
                found.add((module, owner))
                found.update((module, f"{owner}.{attribute}") for attribute in _self_reads(function, node.args[2]))
    return found


def additions(source: str) -> set[tuple[str, str]]:
    """(moto module, dotted path) of every attribute the source adds to moto with ``_add`` (moto lacks them)."""
    found = set()
    for function in ast.walk(ast.parse(source)):
        if isinstance(function, ast.FunctionDef):
            imported = _imports(function)
            for node in ast.walk(function):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_add":
                    chain = (_chain(node.args[0]) or []) + [node.args[1].value]
                    module, name = imported[chain[0]]
                    found.add((module, ".".join(filter(None, [name, *chain[1:]]))))
    return found


def _self_reads(function: ast.AST, replacement: ast.AST) -> set[str]:
    """Attributes a replacement defined in ``function`` reads on its first argument (``self``)."""
    defined = [node for node in ast.walk(function) if isinstance(node, ast.FunctionDef)
               and isinstance(replacement, ast.Name) and node.name == replacement.id and node.args.args]
    return {node.attr for method in defined for node in ast.walk(method) if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name) and node.value.id == method.args.args[0].arg}


USES = sorted(uses(inspect.getsource(moto_patches)))


def resolve(module: str, path: str):
    """The object at ``path`` in ``module``, importing submodules on the way as ``from a import b`` does."""
    target = importlib.import_module(module)
    for part in filter(None, path.split(".")):
        if not hasattr(target, part) and inspect.ismodule(target):
            importlib.import_module(f"{target.__name__}.{part}")
        if not hasattr(target, part) and inspect.isclass(target) and _set_on_instances(target, part):
            return None  # an instance attribute: there is nothing further to look up on the class
        target = getattr(target, part)
    return target


def _set_on_instances(cls: type, attribute: str) -> bool:
    """Whether the class (or a base) assigns ``self.<attribute>`` in its own code."""
    for klass in cls.__mro__:
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        if f"self.{attribute} =" in source or f"self.{attribute}:" in source:
            return True
    return False


def test_moto_is_the_pinned_version():
    assert moto.__version__ == "5.2.5"


def test_the_uses_are_read_from_the_patches():
    assert len(USES) > 40
    for expected in [("moto.awslambda_simple.models", "LambdaSimpleBackend.invoke"),  # replaced
                     ("moto.stepfunctions.parser.asl.component.state.wait.wait_function",
                      "timestamp.Timestamp._get_wait_seconds"),  # read, then replaced
                     ("moto.eks.models", "EKSBackend.update_nodegroup_config"),  # wrapped
                     ("moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service",
                      "StateTaskService._from_boto_response"),  # read on self by a replacement
                     ("moto.eks.models", "eks_backends"),  # read by the stand-in's services
                     ("moto.moto_api._internal.models", "moto_api_backend.reset")]:
        assert expected in USES


@pytest.mark.parametrize("module, path", USES, ids=[f"{m}:{p}" for m, p in USES])
def test_what_moto_patches_uses_exists_in_the_pinned_moto(module, path):
    resolve(module, path)  # raises ImportError or AttributeError when an upgrade moved it


ADDED = sorted(additions(inspect.getsource(moto_patches)))


def test_the_additions_are_read_from_the_patches():
    assert ("moto.ecr.responses", "ECRResponse.create_repository_creation_template") in ADDED
    assert ("moto.ecr.responses", "ECRResponse._get_param") in USES  # read on self by an added method
    assert ("moto.ecr.responses", "ECRResponse.current_account") in USES


@pytest.mark.parametrize("module, path", ADDED, ids=[f"{m}:{p}" for m, p in ADDED])
def test_what_moto_patches_adds_is_still_missing_from_the_pinned_moto(module, path):
    """An upgrade that implements it should be used (or wrapped) instead."""
    owner_path, _, name = path.rpartition(".")
    owner = resolve(module, owner_path)
    installed = [value for patched, attribute, value in moto_patches._originals  # a running stack added it
                 if patched is owner and attribute == name]
    assert installed == [moto_patches._ABSENT] if installed else not hasattr(owner, name)


def test_a_missing_attribute_is_seen():
    source = ("def patch():\n    from moto.eks.models import EKSBackend\n"
              "    _replace(EKSBackend, 'no_such_method', None)\n")
    (found,) = [u for u in uses(source) if u[1].endswith("no_such_method")]
    with pytest.raises(AttributeError):
        resolve(*found)


def private_moto_imports(source: str) -> list[str]:
    """Modules of moto other than its public ones that ``source`` imports (inside functions too)."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names
                                      if node.module == "moto" and alias.name not in ("mock_aws", "server")]
    return [name for name in names if name.split(".")[0] == "moto" and name not in PUBLIC]


def test_only_moto_patches_imports_moto_internals():
    modules = sorted(STAND_IN.rglob("*.py"))
    assert len(modules) > 50
    found = {str(path.relative_to(STAND_IN)): private_moto_imports(path.read_text())
             for path in modules if path != STAND_IN / "moto_patches.py"}
    assert {path: names for path, names in found.items() if names} == {}


@pytest.mark.parametrize("source", ["from moto.eks.models import eks_backends",
                                    "def f():\n    import moto.eks.exceptions\n",
                                    "from moto import eks"])
def test_the_import_check_sees_a_private_import(source):
    assert private_moto_imports(source)


def test_the_import_check_lets_the_public_api_be():
    assert private_moto_imports("from moto import mock_aws\nfrom moto.server import ThreadedMotoServer\n") == []
