"""The resource types the server knows: built-in groups plus those CRDs add."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    """One served resource in one group version (``apps/v1 deployments``)."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    custom: bool = False
    verbs: tuple[str, ...] = VERBS
    singular: str = field(default="")

    @property
    def api_version(self) -> str:
        """``apps/v1`` or ``v1`` for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        """Storage key: objects of every version of a resource live together."""
        return (self.group, self.plural)

    @property
    def singular_name(self) -> str:
        """Lower-case singular name (``deployment``)."""
        return self.singular or self.kind.lower()


# (group/version, Kind, plural, namespaced, short names, subresources)
_BUILTIN = [
    ("v1", "Namespace", "namespaces", False, "ns", "status,finalize"),
    ("v1", "ConfigMap", "configmaps", True, "cm", ""),
    ("v1", "Secret", "secrets", True, "", ""),
    ("v1", "Service", "services", True, "svc", "status"),
    ("v1", "ServiceAccount", "serviceaccounts", True, "sa", ""),
    ("v1", "Pod", "pods", True, "po", "status"),
    ("v1", "Endpoints", "endpoints", True, "ep", ""),
    ("v1", "Event", "events", True, "ev", ""),
    ("v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, "pvc", "status"),
    ("v1", "PersistentVolume", "persistentvolumes", False, "pv", "status"),
    ("v1", "Node", "nodes", False, "no", "status"),
    ("v1", "ReplicationController", "replicationcontrollers", True, "rc", "status"),
    ("v1", "ResourceQuota", "resourcequotas", True, "quota", "status"),
    ("v1", "LimitRange", "limitranges", True, "limits", ""),
    ("v1", "PodTemplate", "podtemplates", True, "", ""),
    ("apps/v1", "Deployment", "deployments", True, "deploy", "status,scale"),
    ("apps/v1", "StatefulSet", "statefulsets", True, "sts", "status,scale"),
    ("apps/v1", "DaemonSet", "daemonsets", True, "ds", "status"),
    ("apps/v1", "ReplicaSet", "replicasets", True, "rs", "status,scale"),
    ("apps/v1", "ControllerRevision", "controllerrevisions", True, "", ""),
    ("batch/v1", "Job", "jobs", True, "", "status"),
    ("batch/v1", "CronJob", "cronjobs", True, "cj", "status"),
    ("networking.k8s.io/v1", "Ingress", "ingresses", True, "ing", "status"),
    ("networking.k8s.io/v1", "IngressClass", "ingressclasses", False, "", ""),
    ("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", True, "netpol", ""),
    ("rbac.authorization.k8s.io/v1", "Role", "roles", True, "", ""),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", True, "", ""),
    ("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", False, "", ""),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", False, "", ""),
    ("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", True, "pdb", "status"),
    ("storage.k8s.io/v1", "StorageClass", "storageclasses", False, "sc", ""),
    ("storage.k8s.io/v1", "CSIDriver", "csidrivers", False, "", ""),
    ("storage.k8s.io/v1", "CSINode", "csinodes", False, "", ""),
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration",
     "mutatingwebhookconfigurations", False, "", ""),
    ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration",
     "validatingwebhookconfigurations", False, "", ""),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", False,
     "crd,crds", "status"),
    ("coordination.k8s.io/v1", "Lease", "leases", True, "", ""),
    ("scheduling.k8s.io/v1", "PriorityClass", "priorityclasses", False, "pc", ""),
    ("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True, "hpa", "status"),
    ("discovery.k8s.io/v1", "EndpointSlice", "endpointslices", True, "", ""),
    ("apiregistration.k8s.io/v1", "APIService", "apiservices", False, "", "status"),
]


def builtin_types() -> list[ResourceType]:
    """The built-in resource catalogue."""
    types = []
    for group_version, kind, plural, namespaced, shorts, subs in _BUILTIN:
        group, _, version = group_version.rpartition("/")
        types.append(ResourceType(
            group=group, version=version, kind=kind, plural=plural, namespaced=namespaced,
            short_names=tuple(s for s in shorts.split(",") if s),
            subresources=tuple(s for s in subs.split(",") if s),
            categories=("all",) if kind in {"Pod", "Service", "Deployment", "StatefulSet", "DaemonSet",
                                             "ReplicaSet", "Job", "CronJob"} else (),
        ))
    return types


def crd_types(crd: dict) -> list[ResourceType]:
    """The resource types a CustomResourceDefinition serves (one per served version)."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    types = []
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        types.append(ResourceType(
            group=spec.get("group", ""), version=version["name"], kind=names.get("kind", ""),
            plural=names.get("plural", ""), singular=names.get("singular", ""),
            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            short_names=tuple(names.get("shortNames", [])),
            categories=tuple(names.get("categories", [])),
            subresources=tuple(sorted(version.get("subresources", {}) or {})),
            custom=True,
        ))
    return types


class Catalogue:
    """Thread-safe registry of resource types, looked up by path or by kind."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        for rtype in builtin_types():
            self._types[(rtype.group, rtype.version, rtype.plural)] = rtype

    def by_path(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The type served at ``/apis/<group>/<version>/<plural>``."""
        with self._lock:
            return self._types.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        """The type for an object's ``apiVersion`` and ``kind``."""
        group, _, version = api_version.rpartition("/")
        with self._lock:
            for rtype in self._types.values():
                if (rtype.group, rtype.version, rtype.kind) == (group, version, kind):
                    return rtype
        return None

    def all(self) -> list[ResourceType]:
        """Every served type, in registration order."""
        with self._lock:
            return list(self._types.values())

    def group_versions(self) -> dict[str, list[str]]:
        """Group name -> served versions, preferred (first registered) first."""
        groups: dict[str, list[str]] = {}
        for rtype in self.all():
            versions = groups.setdefault(rtype.group, [])
            if rtype.version not in versions:
                versions.append(rtype.version)
        return groups

    def set_crd(self, crd: dict) -> None:
        """Register (or re-register) the types of a CRD."""
        self.remove_crd(crd)
        with self._lock:
            for rtype in crd_types(crd):
                self._types[(rtype.group, rtype.version, rtype.plural)] = rtype

    def remove_crd(self, crd: dict) -> None:
        """Forget every version of a CRD's resource."""
        spec = crd.get("spec", {})
        key = (spec.get("group", ""), spec.get("names", {}).get("plural", ""))
        with self._lock:
            for path_key in [k for k, t in self._types.items() if t.custom and t.key == key]:
                del self._types[path_key]
