"""What happens around writes: namespace termination, garbage collection, CRD registration.

These run with the store's lock held (they are called from inside its write
methods), except the delayed namespace finalisation, which takes the lock itself.
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from .catalogue import ResourceType
from .errors import forbidden, not_found

if TYPE_CHECKING:
    from .store import ObjectStore

_IMMUTABLE_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds")


def check_namespace_open(store: "ObjectStore", namespace: str) -> None:
    """404 if the namespace does not exist, 403 if it is being terminated."""
    ns = store.stored(("", "namespaces"), ("", namespace))
    if ns is None:
        raise not_found("namespaces", "", namespace)
    if ns["metadata"].get("deletionTimestamp"):
        raise forbidden(f"unable to create new content in namespace {namespace} because it is being terminated",
                        {"name": namespace, "kind": "namespaces",
                         "causes": [{"reason": "NamespaceTerminating", "field": "metadata.namespace"}]})


def carry_over(rtype: ResourceType, current: dict, new: dict) -> None:
    """Keep what a client may not change or may omit on update (uid, timestamps, clusterIP...)."""
    meta, old_meta = new.setdefault("metadata", {}), current["metadata"]
    for field in _IMMUTABLE_META:
        if field in old_meta:
            meta[field] = old_meta[field]
        else:
            meta.pop(field, None)
    meta["name"] = old_meta["name"]
    if "namespace" in old_meta:
        meta["namespace"] = old_meta["namespace"]
    if "generation" in old_meta:
        meta["generation"] = old_meta["generation"]
    else:
        meta.pop("generation", None)
    if "managedFields" not in meta and "managedFields" in old_meta:
        meta["managedFields"] = copy.deepcopy(old_meta["managedFields"])
    if rtype.kind == "Service" and not rtype.group:
        spec, old_spec = new.setdefault("spec", {}), current.get("spec", {})
        for field in ("clusterIP", "clusterIPs"):
            if not spec.get(field) and old_spec.get(field):
                spec[field] = copy.deepcopy(old_spec[field])
    if rtype.kind == "CustomResourceDefinition":
        new.pop("status", None)


def after_write(store: "ObjectStore", rtype: ResourceType, obj: dict) -> None:
    """React to a stored create/update (a CRD starts serving its resource)."""
    if rtype.kind == "CustomResourceDefinition" and rtype.group == "apiextensions.k8s.io":
        store.catalogue.set_crd(obj)


def after_delete(store: "ObjectStore", rtype: ResourceType, obj: dict, propagation: str) -> None:
    """Collect what depended on a removed object: owned objects and a CRD's custom resources."""
    if rtype.kind == "CustomResourceDefinition" and rtype.group == "apiextensions.k8s.io":
        spec = obj.get("spec", {})
        key = (spec.get("group", ""), spec.get("names", {}).get("plural", ""))
        served = [t for t in store.catalogue.all() if t.custom and t.key == key]
        for okey in store.keys_of(key):
            store.remove(served[0], okey, "Background")
        store.catalogue.remove_crd(obj)
    if propagation == "Orphan":
        return
    uid = obj["metadata"].get("uid")
    for rkey, okey, child in store.stored_items():
        owners = child["metadata"].get("ownerReferences") or []
        if any(ref.get("uid") == uid for ref in owners):
            child_type = _type_for(store, rkey)
            if child_type is not None and store.stored(rkey, okey) is not None:
                store.remove(child_type, okey, propagation)


def _type_for(store: "ObjectStore", rkey: tuple[str, str]) -> ResourceType | None:
    for rtype in store.catalogue.all():
        if rtype.key == rkey:
            return rtype
    return None


def start_namespace_termination(store: "ObjectStore", rtype: ResourceType, key: tuple[str, str],
                                current: dict) -> dict:
    """Mark a namespace Terminating and schedule removal of it and its contents."""
    if current["metadata"].get("deletionTimestamp"):
        return store.present(rtype, current)
    from .store import now_iso  # imported here: store imports this module
    marked = copy.deepcopy(current)
    marked["metadata"]["deletionTimestamp"] = now_iso()
    marked["status"] = {"phase": "Terminating"}
    store.commit(rtype, key, marked, current)
    store.call_later(store.namespace_finalize_delay, lambda: finalize_namespace(store, rtype, key[1]))
    return store.present(rtype, marked)


def finalize_namespace(store: "ObjectStore", rtype: ResourceType, name: str) -> None:
    """Delete everything in a terminating namespace, then the namespace itself."""
    with store.lock:
        if store.closed or store.stored(rtype.key, ("", name)) is None:
            return
        types = {t.key: t for t in store.catalogue.all() if t.namespaced}
        for rkey, okey, _ in store.stored_items():
            if okey[0] == name and rkey in types and store.stored(rkey, okey) is not None:
                store.remove(types[rkey], okey, "Background")
        store.remove(rtype, ("", name), "Background")
