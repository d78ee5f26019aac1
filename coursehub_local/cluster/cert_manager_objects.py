"""Reading and writing cert-manager's objects: API versions, conditions, owner references, issuers, Secrets."""
from __future__ import annotations

import logging

from coursehub_local.kube.errors import ApiError
from coursehub_local.kube.store import now_iso

log = logging.getLogger(__name__)
CM, ACME = "cert-manager.io/v1", "acme.cert-manager.io/v1"


def condition(obj: dict, kind: str) -> dict:
    """The object's status condition of type ``kind`` ({} if it has none)."""
    return next((c for c in obj.get("status", {}).get("conditions", []) if c.get("type") == kind), {})


def new_condition(kind: str, status: str, reason: str, message: str, obj: dict) -> dict:
    """A condition that keeps its lastTransitionTime while its status stays the same (so passes settle)."""
    old = condition(obj, kind)
    since = old["lastTransitionTime"] if old.get("status") == status and old.get("lastTransitionTime") else now_iso()
    return {"type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": since,
            "observedGeneration": obj["metadata"].get("generation", 1)}


def owned_by(obj: dict, owner: dict) -> bool:
    """Whether ``obj`` has an owner reference to ``owner``."""
    return any(o.get("uid") == owner["metadata"]["uid"] for o in obj["metadata"].get("ownerReferences", []))


def owner_reference(obj: dict) -> dict:
    """A controller owner reference to ``obj``."""
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def find_issuer(store, kind: str, name: str, namespace: str) -> dict | None:
    """An Issuer in ``namespace`` or a ClusterIssuer, if it exists."""
    try:
        return store.get_object(CM, kind, namespace if kind == "Issuer" else None, name)
    except ApiError:
        return None


def find_secret(store, namespace: str, name: str) -> dict | None:
    try:
        return store.get_object("v1", "Secret", namespace, name)
    except ApiError:
        return None


def set_status(store, obj: dict, status: dict) -> None:
    """Write ``status`` unless the object already has it (a failure is only logged: the next pass retries)."""
    if obj.get("status") == status:
        return
    meta = obj["metadata"]
    try:
        store.set_status(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"], status)
    except ApiError as error:
        log.debug("status of %s %s not set: %s", obj["kind"], meta["name"], error)


def delete_if_present(store, api_version: str, kind: str, namespace: str, name: str) -> None:
    try:
        store.delete(store.resource_type(api_version, kind), namespace, name)
    except ApiError:
        pass
