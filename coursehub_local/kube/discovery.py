"""Discovery documents: legacy (/api, /apis, APIResourceList) and aggregated (apidiscovery.k8s.io/v2)."""
from __future__ import annotations

from .catalogue import Catalogue, ResourceType

AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
VERSION = {
    "major": "1", "minor": "33", "gitVersion": "v1.33.0-coursehub-local",
    "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.24.0", "compiler": "gc",
    "platform": "linux/amd64",
}


def version_info(kubernetes_version: str | None) -> dict:
    """``GET /version`` of a server of minor version ``kubernetes_version`` ("1.36"), as the cluster's
    version is what kubectl's skew check and helm's ``kubeVersion`` constraints read."""
    if not kubernetes_version:
        return VERSION
    major, minor = kubernetes_version.split(".")[:2]
    return {**VERSION, "major": major, "minor": minor, "gitVersion": f"v{major}.{minor}.0-coursehub-local"}


def wants_aggregated(accept: str) -> bool:
    """True when the client asks for aggregated discovery v2 (kubectl, helm do)."""
    for media in accept.split(","):
        params = dict(p.strip().partition("=")[::2] for p in media.split(";")[1:])
        if params.get("g") == "apidiscovery.k8s.io" and params.get("v") == "v2" \
                and params.get("as") == "APIGroupDiscoveryList":
            return True
    return False


def api_versions(server_address: str) -> dict:
    """``GET /api``."""
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _group(name: str, versions: list[str]) -> dict:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(catalogue: Catalogue) -> dict:
    """``GET /apis``."""
    groups = [_group(g, vs) for g, vs in catalogue.group_versions().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(catalogue: Catalogue, name: str) -> dict | None:
    """``GET /apis/<group>``; None if the group is not served."""
    versions = catalogue.group_versions().get(name)
    if not versions or not name:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def _verbs(rtype: ResourceType) -> list[str]:
    return sorted(rtype.verbs)


def api_resource_list(catalogue: Catalogue, group: str, version: str) -> dict | None:
    """``GET /api/v1`` or ``/apis/<group>/<version>``; None if not served."""
    types = [t for t in catalogue.all() if (t.group, t.version) == (group, version)]
    if not types:
        return None
    resources = []
    for rtype in types:
        entry = {"name": rtype.plural, "singularName": rtype.singular_name, "namespaced": rtype.namespaced,
                 "kind": rtype.kind, "verbs": _verbs(rtype)}
        if rtype.short_names:
            entry["shortNames"] = list(rtype.short_names)
        if rtype.categories:
            entry["categories"] = list(rtype.categories)
        resources.append(entry)
        for sub in rtype.subresources:
            resources.append({"name": f"{rtype.plural}/{sub}", "singularName": "", "namespaced": rtype.namespaced,
                              "kind": rtype.kind, "verbs": ["get", "patch", "update"]})
    group_version = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


def _discovery_resource(rtype: ResourceType) -> dict:
    entry = {
        "resource": rtype.plural, "singularResource": rtype.singular_name,
        "responseKind": {"group": rtype.group, "version": rtype.version, "kind": rtype.kind},
        "scope": "Namespaced" if rtype.namespaced else "Cluster", "verbs": _verbs(rtype),
    }
    if rtype.short_names:
        entry["shortNames"] = list(rtype.short_names)
    if rtype.categories:
        entry["categories"] = list(rtype.categories)
    if rtype.subresources:
        entry["subresources"] = [
            {"subresource": sub, "responseKind": {"group": rtype.group, "version": rtype.version, "kind": rtype.kind},
             "verbs": ["get", "patch", "update"]} for sub in rtype.subresources]
    return entry


def aggregated(catalogue: Catalogue, legacy: bool) -> dict:
    """Aggregated discovery for ``/api`` (``legacy``) or ``/apis``."""
    items = []
    for group, versions in catalogue.group_versions().items():
        if bool(group) == legacy:
            continue
        entries = []
        for version in versions:
            types = [t for t in catalogue.all() if (t.group, t.version) == (group, version)]
            entries.append({"version": version, "resources": [_discovery_resource(t) for t in types],
                            "freshness": "Current"})
        items.append({"metadata": {"name": group, "creationTimestamp": None}, "versions": entries})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {}, "items": items}
