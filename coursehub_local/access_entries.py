"""EKS access entries, which moto lacks, served on the same endpoint as the rest of EKS.

Covers Create/Describe/List/Delete AccessEntry and Associate/Disassociate/
ListAssociated AccessPolicies, with the errors AWS gives for a missing
cluster, a cluster whose authentication mode has no access entries
(``eks_cluster_rules``), a duplicate entry and a missing entry.
"""
from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote, urlparse

from coursehub_local import moto_patches
from coursehub_local.eks_cluster_rules import access_entries_refused

ROUTES = {
    "{0}/clusters/(?P<name>[^/]+)/access-entries$": "collection",
    "{0}/clusters/(?P<name>[^/]+)/access-entries/(?P<rest>.+)$": "item",
}


class AccessEntries:
    """Access entries per (account, region, cluster), kept beside moto's EKS backend."""

    def __init__(self):
        self._entries: dict[tuple[str, str, str], dict[str, dict]] = {}
        self._lock = threading.Lock()

    def handle(self, request: Any, full_url: str, headers: Any) -> tuple[int, dict, str]:
        """A moto URL handler: route by method and path."""
        path = unquote(urlparse(full_url).path)
        account, region = _account_region(request)
        _, cluster, _, *rest = path.strip("/").split("/", 3)
        backend = moto_patches.eks_backend(account, region)
        if cluster not in backend.clusters:
            return _error(404, "ResourceNotFoundException", f"No cluster found for name: {cluster}.")
        refused = access_entries_refused(backend.clusters[cluster])  # a CONFIG_MAP cluster has none
        if refused:
            return _error(400, "InvalidRequestException", refused)
        entries = self._entries.setdefault((account, region, cluster), {})
        body = json.loads(request.data or b"{}") if request.data else {}
        tail = rest[0] if rest else ""
        with self._lock:
            if not tail:
                if request.method == "POST":
                    return self._create(cluster, backend, entries, body)
                return 200, {}, json.dumps({"accessEntries": sorted(entries)})
            principal, _, policy_part = tail.partition("/access-policies")
            entry = entries.get(principal)
            if entry is None:
                return _error(404, "ResourceNotFoundException",
                              f"The specified principalArn could not be found: {principal}")
            if policy_part or tail.endswith("/access-policies"):
                return self._policies(cluster, entry, request.method, policy_part.lstrip("/"), body)
            if request.method == "DELETE":
                entries.pop(principal)
                return 200, {}, "{}"
            return 200, {}, json.dumps({"accessEntry": _public(entry)})

    def _create(self, cluster: str, backend: Any, entries: dict, body: dict) -> tuple[int, dict, str]:
        principal = body.get("principalArn", "")
        if not principal.startswith("arn:"):
            return _error(400, "InvalidParameterException", "principalArn must be an IAM principal ARN")
        if principal in entries:
            return _error(409, "ResourceInUseException",
                          "The specified access entry resource is already in use on this cluster.")
        now = datetime.now(timezone.utc).timestamp()
        cluster_arn = backend.clusters[cluster].arn
        entry = {
            "clusterName": cluster,
            "principalArn": principal,
            "kubernetesGroups": body.get("kubernetesGroups", []),
            "accessEntryArn": cluster_arn.replace(":cluster/", ":access-entry/") + "/" + principal.rsplit("/", 1)[-1],
            "createdAt": now,
            "modifiedAt": now,
            "tags": body.get("tags", {}),
            "username": body.get("username") or principal,
            "type": body.get("type", "STANDARD"),
            "_policies": {},
        }
        entries[principal] = entry
        return 200, {}, json.dumps({"accessEntry": _public(entry)})

    def _policies(self, cluster: str, entry: dict, method: str, policy_arn: str, body: dict):
        policies = entry["_policies"]
        base = {"clusterName": cluster, "principalArn": entry["principalArn"]}
        if method == "POST":
            policy_arn = body.get("policyArn", "")
            if not policy_arn.startswith("arn:aws:eks::aws:cluster-access-policy/"):
                return _error(400, "InvalidParameterException", f"Unknown access policy {policy_arn!r}")
            now = datetime.now(timezone.utc).timestamp()
            policies[policy_arn] = {"policyArn": policy_arn, "accessScope": body.get("accessScope", {}),
                                    "associatedAt": now, "modifiedAt": now}
            return 200, {}, json.dumps({**base, "associatedAccessPolicy": policies[policy_arn]})
        if method == "DELETE":
            policies.pop(policy_arn, None)
            return 200, {}, "{}"
        return 200, {}, json.dumps({**base, "associatedAccessPolicies": list(policies.values())})

    def forget_cluster(self, account: str, region: str, cluster: str) -> None:
        """Drop a deleted cluster's entries, as AWS does."""
        with self._lock:
            self._entries.pop((account, region, cluster), None)


def _public(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if not k.startswith("_")}


def _error(status: int, kind: str, message: str) -> tuple[int, dict, str]:
    return status, {"x-amzn-ErrorType": kind}, json.dumps({"message": message})


def _account_region(request: Any) -> tuple[str, str]:
    """Account and region as moto derives them, from the SigV4 credential scope."""
    return moto_patches.account_region(request, "eks")
