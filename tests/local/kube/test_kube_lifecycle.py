"""lifecycle.py reaches the object store only through its public interface."""
from __future__ import annotations

import ast
import inspect

from coursehub_local.kube import lifecycle
from coursehub_local.kube.store import ObjectStore


def store_attributes() -> set[str]:
    """Every attribute lifecycle.py reads on a ``store``."""
    tree = ast.parse(inspect.getsource(lifecycle))
    return {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "store"}


def test_lifecycle_uses_no_private_store_attribute():
    used = store_attributes()
    assert used, "lifecycle.py no longer uses a store: the check below would pass on nothing"
    assert sorted(name for name in used if name.startswith("_")) == []


def test_every_store_attribute_lifecycle_uses_is_public_on_the_store():
    store = ObjectStore()
    try:
        assert sorted(name for name in store_attributes() if not hasattr(store, name)) == []
    finally:
        store.close()
