"""Defaults kube-apiserver fills in on write, for the fields clients read back."""
from __future__ import annotations

import base64
import itertools
import threading

from .catalogue import ResourceType

_cluster_ips = itertools.count(10)
_ip_lock = threading.Lock()


def _next_cluster_ip() -> str:
    with _ip_lock:
        n = next(_cluster_ips)
    return f"10.100.{(n // 250) % 250}.{n % 250 + 1}"


def _service(spec: dict) -> None:
    spec.setdefault("type", "ClusterIP")
    if spec["type"] != "ExternalName":
        if not spec.get("clusterIP"):
            spec["clusterIP"] = _next_cluster_ip()
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))


def _deployment(spec: dict) -> None:
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    spec.setdefault("strategy", {"type": "RollingUpdate",
                                 "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})


def _crd_status(obj: dict) -> None:
    spec = obj.get("spec") or {}
    conditions = [
        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
         "message": "no conflicts found", "lastTransitionTime": obj["metadata"]["creationTimestamp"]},
        {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
         "message": "the initial names have been accepted", "lastTransitionTime": obj["metadata"]["creationTimestamp"]},
    ]
    stored = [v["name"] for v in spec.get("versions", []) if v.get("storage")]
    obj["status"] = {"acceptedNames": spec.get("names", {}), "conditions": conditions, "storedVersions": stored}


def apply_defaults(rtype: ResourceType, obj: dict) -> None:
    """Fill in server-side defaults in place (after validation, before storing)."""
    if "status" in rtype.subresources and not rtype.custom:
        obj.setdefault("status", {})
    if rtype.group or rtype.kind not in ("Secret", "Namespace", "Service", "Pod"):
        if rtype.group == "apps" and rtype.kind == "Deployment":
            _deployment(obj.setdefault("spec", {}))
        elif rtype.kind == "CustomResourceDefinition":
            _crd_status(obj)
        return
    if rtype.kind == "Secret":
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None) or {}
        if string_data:
            data = obj.setdefault("data", {})
            for key, value in string_data.items():
                data[key] = base64.b64encode(value.encode()).decode()
    elif rtype.kind == "Namespace":
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
    elif rtype.kind == "Service":
        _service(obj.setdefault("spec", {}))
        obj.setdefault("status", {"loadBalancer": {}})
    elif rtype.kind == "Pod":
        obj.setdefault("status", {}).setdefault("phase", "Pending")
