"""The REST verbs on resources: get, list, create, update, patch, delete (and /status)."""
from __future__ import annotations

from dataclasses import dataclass

from . import bodies
from .apply import server_side_apply
from .catalogue import ResourceType
from .errors import ApiError, bad_request, method_not_allowed, not_found, success_status
from .patch import json_merge_patch, json_patch, strategic_merge_patch
from .selectors import field_selector, label_selector
from .store import ObjectStore, now_iso


@dataclass
class ResourceRequest:
    """A request on one resource type, parsed from the URL."""

    method: str
    rtype: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None
    query: dict[str, list[str]]
    content_type: str = ""
    body: bytes = b""
    accept: str = ""

    def param(self, name: str, default: str | None = None) -> str | None:
        """First value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default

    def flag(self, name: str) -> bool:
        """A boolean query parameter, parsed like Go's strconv.ParseBool (the Python client sends ``True``)."""
        return (self.param(name) or "").lower() in ("1", "t", "true")

    @property
    def dry_run(self) -> bool:
        """True for ``?dryRun=All``."""
        return "All" in self.query.get("dryRun", [])


def predicate(req: ResourceRequest):
    """Combined label and field selector of a list or watch request."""
    labels, fields = label_selector(req.param("labelSelector")), field_selector(req.param("fieldSelector"))
    return lambda obj: labels(obj) and fields(obj)


def list_objects(store: ObjectStore, req: ResourceRequest) -> tuple[int, dict]:
    """``GET`` on a collection (without ``watch``)."""
    items, rv = store.list(req.rtype, req.namespace, predicate(req))
    return 200, {"kind": f"{req.rtype.kind}List", "apiVersion": req.rtype.api_version,
                 "metadata": {"resourceVersion": str(rv)}, "items": items}


def create(store: ObjectStore, req: ResourceRequest) -> tuple[int, dict]:
    """``POST`` on a collection."""
    obj = bodies.decode_object(req.body, req.content_type)
    _check_kind(req.rtype, obj)
    return 201, store.create(req.rtype, obj, req.namespace, dry_run=req.dry_run, keep_status=False)


def update(store: ObjectStore, req: ResourceRequest) -> tuple[int, dict]:
    """``PUT`` on an object or its status."""
    obj = bodies.decode_object(req.body, req.content_type)
    _check_kind(req.rtype, obj)
    return 200, store.update(req.rtype, obj, req.namespace, req.name, subresource=req.subresource,
                             dry_run=req.dry_run, keep_status=False)


def patch(store: ObjectStore, req: ResourceRequest) -> tuple[int, dict]:
    """``PATCH`` with any of the four patch types; apply creates a missing object."""
    kind = bodies.media_type(req.content_type)
    body = bodies.decode(req.body, req.content_type)
    if kind == bodies.APPLY_PATCH:
        return _apply(store, req, body)
    with store.lock:
        current = store.get(req.rtype, req.namespace, req.name)
        patched = apply_patch(kind, current, body, req.rtype.custom)
        return 200, store.update(req.rtype, patched, req.namespace, req.name, subresource=req.subresource,
                                 dry_run=req.dry_run, keep_status=False)


def apply_patch(kind: str, current: dict, body: object, custom: bool) -> dict:
    """``current`` after a JSON, merge or strategic merge patch (strategic is refused for custom kinds)."""
    if kind == bodies.JSON_PATCH:
        patched = json_patch(current, body)
    elif kind == bodies.MERGE_PATCH:
        patched = json_merge_patch(current, _patch_object(body))
    elif kind == bodies.STRATEGIC_PATCH and not custom:
        patched = strategic_merge_patch(current, _patch_object(body))
    else:
        raise ApiError(415, "UnsupportedMediaType",
                       f"the body of the request was in an unknown format ({kind}) - accepted media types include: "
                       "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
                       + ("" if custom else ", application/strategic-merge-patch+json"))
    if not isinstance(patched, dict):
        raise bad_request("the patch produced something other than an object")
    return patched


def _apply(store: ObjectStore, req: ResourceRequest, applied: object) -> tuple[int, dict]:
    manager = req.param("fieldManager")
    if not manager:
        raise bad_request("PATCH request must have a fieldManager when using apply")
    applied = _patch_object(applied)
    _check_kind(req.rtype, applied)
    meta = applied.setdefault("metadata", {})
    if meta.get("managedFields") is not None:
        raise bad_request("metadata.managedFields must be nil")
    if meta.get("name", req.name) != req.name:
        raise bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the URL ({req.name})")
    meta["name"] = req.name
    with store.lock:
        try:
            current = store.get(req.rtype, req.namespace, req.name)
        except ApiError as exc:
            if exc.code != 404 or req.subresource:
                raise
            new = server_side_apply(None, applied, manager, now_iso())
            return 201, store.create(req.rtype, new, req.namespace, dry_run=req.dry_run, keep_status=False)
        new = server_side_apply(current, applied, manager, now_iso())
        new["metadata"]["resourceVersion"] = meta.get("resourceVersion") or current["metadata"]["resourceVersion"]
        return 200, store.update(req.rtype, new, req.namespace, req.name, subresource=req.subresource,
                                 dry_run=req.dry_run, keep_status=False)


def delete(store: ObjectStore, req: ResourceRequest) -> tuple[int, dict]:
    """``DELETE`` on an object, honouring DeleteOptions from the body or the query."""
    options = bodies.decode(req.body, req.content_type or "application/json") if req.body else None
    options = options if isinstance(options, dict) else {}
    propagation = options.get("propagationPolicy") or req.param("propagationPolicy")
    if options.get("orphanDependents") is True:
        propagation = "Orphan"
    dry_run = req.dry_run or "All" in (options.get("dryRun") or [])
    obj, removed = store.delete(req.rtype, req.namespace, req.name, dry_run=dry_run, propagation=propagation,
                                preconditions=options.get("preconditions"))
    if removed and req.rtype.kind not in ("Pod",):
        details = {"name": req.name, "kind": req.rtype.plural, "uid": obj["metadata"].get("uid")}
        if req.rtype.group:
            details["group"] = req.rtype.group
        return 200, success_status(details)
    return (200 if removed or req.rtype.kind == "Namespace" else 202), obj


def delete_collection(store: ObjectStore, req: ResourceRequest) -> tuple[int, dict]:
    """``DELETE`` on a collection: every object matching the selectors."""
    items, _ = store.list(req.rtype, req.namespace, predicate(req))
    for item in items:
        try:
            store.delete(req.rtype, item["metadata"].get("namespace"), item["metadata"]["name"],
                         dry_run=req.dry_run, propagation=req.param("propagationPolicy"))
        except ApiError as exc:
            if exc.code != 404:
                raise
    _, rv = store.list(req.rtype, req.namespace, lambda obj: False)
    return 200, {"kind": f"{req.rtype.kind}List", "apiVersion": req.rtype.api_version,
                 "metadata": {"resourceVersion": str(rv)}, "items": items}


def _scale_of(obj: dict) -> dict:
    meta = obj["metadata"]
    selector = (obj.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in meta},
            "spec": {"replicas": obj.get("spec", {}).get("replicas", 0)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                       "selector": ",".join(f"{k}={v}" for k, v in selector.items())}}


def scale(store: ObjectStore, req: ResourceRequest) -> tuple[int, dict]:
    """The ``/scale`` subresource: read or set ``spec.replicas`` through an autoscaling/v1 Scale."""
    with store.lock:
        obj = store.get(req.rtype, req.namespace, req.name)
        if req.method == "GET":
            return 200, _scale_of(obj)
        if req.method == "PUT":
            wanted = bodies.decode_object(req.body, req.content_type)
        elif req.method == "PATCH":
            kind = bodies.media_type(req.content_type)
            wanted = apply_patch(kind, _scale_of(obj), bodies.decode(req.body, req.content_type), custom=False)
        else:
            raise method_not_allowed()
        rv = wanted.get("metadata", {}).get("resourceVersion")
        obj["spec"]["replicas"] = int(wanted.get("spec", {}).get("replicas", 0))
        obj["metadata"]["resourceVersion"] = rv or obj["metadata"]["resourceVersion"]
        return 200, _scale_of(store.update(req.rtype, obj, req.namespace, req.name, dry_run=req.dry_run))


def dispatch(store: ObjectStore, req: ResourceRequest) -> tuple[int, dict]:
    """Run the verb a non-watch request names."""
    if req.subresource and req.subresource not in req.rtype.subresources:
        raise not_found(f"{req.rtype.plural}/{req.subresource}", req.rtype.group, req.name or "")
    if req.subresource == "finalize":
        return 200, store.get(req.rtype, req.namespace, req.name)
    if req.subresource == "scale":
        return scale(store, req)
    if req.name is None:
        if req.method == "GET":
            return list_objects(store, req)
        if req.method == "POST":
            return create(store, req)
        if req.method == "DELETE":
            return delete_collection(store, req)
        raise method_not_allowed()
    if req.method == "GET":
        return 200, store.get(req.rtype, req.namespace, req.name)
    if req.method == "PUT":
        return update(store, req)
    if req.method == "PATCH":
        return patch(store, req)
    if req.method == "DELETE" and not req.subresource:
        return delete(store, req)
    raise method_not_allowed()


def _check_kind(rtype: ResourceType, obj: dict) -> None:
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if kind and kind != rtype.kind:
        raise bad_request(f"the object kind {kind!r} does not match the resource {rtype.plural!r} ({rtype.kind})")
    if api_version and api_version != rtype.api_version:
        raise bad_request(f"the API version in the data ({api_version}) does not match the expected API version ({rtype.api_version})")


def _patch_object(body: object) -> dict:
    if not isinstance(body, dict):
        raise bad_request("the patch must be a JSON object")
    return body
