"""A minimal OpenAPI v3 surface: enough for clients to choose server-side field validation.

kubectl and helm ask ``/openapi/v3/<group-version>`` whether the PATCH operation
of a kind takes the ``fieldValidation`` query parameter; when it does they
skip client-side schema validation (which would need the full ``/openapi/v2``
protobuf document) and leave validation to the server, so neither
``--validate=false`` nor ``--disable-openapi-validation`` is needed. Schemas
are not published, so ``kubectl explain`` does not work and the server does not
reject unknown fields (``fieldValidation=Strict`` is accepted and ignored).
"""
from __future__ import annotations

import hashlib
import json

from .catalogue import Catalogue, ResourceType

_QUERY_PARAMS = ("fieldValidation", "fieldManager", "dryRun", "force")


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _operations(rtype: ResourceType) -> dict:
    gvk = {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}
    params = [{"name": name, "in": "query", "schema": {"type": "string"}, "uniqueItems": True}
              for name in _QUERY_PARAMS]
    item = "/" + _gv_path(rtype.group, rtype.version)
    item += "/namespaces/{namespace}" if rtype.namespaced else ""
    item += f"/{rtype.plural}/{{name}}"
    operation = {
        "operationId": f"patch{rtype.kind}", "parameters": params,
        "x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": gvk,
        "responses": {"200": {"description": "OK"}},
    }
    return {item: {"patch": operation}}


def group_version_document(catalogue: Catalogue, group: str, version: str) -> dict | None:
    """``GET /openapi/v3/apis/<group>/<version>``; None if not served."""
    types = [t for t in catalogue.all() if (t.group, t.version) == (group, version)]
    if not types:
        return None
    paths: dict = {}
    for rtype in types:
        paths.update(_operations(rtype))
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.33.0"},
            "paths": paths, "components": {"schemas": {}}}


def root_document(catalogue: Catalogue) -> dict:
    """``GET /openapi/v3``: one entry per group version, with a content hash clients cache by."""
    paths = {}
    for group, versions in catalogue.group_versions().items():
        for version in versions:
            doc = group_version_document(catalogue, group, version)
            digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32].upper()
            path = _gv_path(group, version)
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}
