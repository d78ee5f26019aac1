"""EKS add-ons and Pod Identity associations, which moto 5.2.5 lacks, served on the same endpoint as the rest of EKS.

Shapes and error codes are botocore's EKS model (``botocore/data/eks/2017-11-01/service-2.json``):
``CreateAddon`` ``POST /clusters/{name}/addons``, ``DescribeAddon``/``DeleteAddon`` ``/clusters/{name}/addons/
{addonName}``, ``ListAddons``; ``CreatePodIdentityAssociation`` ``POST /clusters/{name}/pod-identity-associations``,
``DescribePodIdentityAssociation``/``DeletePodIdentityAssociation`` ``.../{associationId}``,
``ListPodIdentityAssociations`` (``?namespace=&serviceAccount=``). Errors: ResourceNotFoundException (404) for an
unknown cluster, add-on or association; ResourceInUseException (409) for a duplicate add-on or association;
InvalidParameterException (400) for a bad name or ``configurationValues`` outside the add-on's schema;
InvalidRequestException (400) for a cluster that is not ACTIVE (as moto answers ``CreateNodegroup`` then).

An add-on is CREATING for ``EksDurations.addon_create`` simulated seconds; then EKS installs its Kubernetes
objects (``addon_objects.objects_of``) through the ``AddonObjects`` the stack provides, and its status follows
its workload: ACTIVE when it is ready, DEGRADED (issue ``InsufficientNumberOfReplicas``, an ``AddonIssueCode`` of
the model) while it is not, e.g. without nodes. ``DeleteAddon`` is DELETING for ``addon_delete`` seconds, then the
add-on and (unless ``preserve``) its objects are gone. A cluster's add-ons and associations go with it: they are
kept against the moto cluster object, and a cluster deleted (or made again under the same name) has none.
"""
from __future__ import annotations

import json
import secrets
import string
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlparse

from coursehub_local import addon_objects, moto_patches
from coursehub_local.timeline import Timeline

ROUTES = {
    "{0}/clusters/(?P<name>[^/]+)/addons$": "addons",
    "{0}/clusters/(?P<name>[^/]+)/addons/(?P<addonName>[^/]+)$": "addons",
    "{0}/clusters/(?P<name>[^/]+)/pod-identity-associations$": "associations",
    "{0}/clusters/(?P<name>[^/]+)/pod-identity-associations/(?P<associationId>[^/]+)$": "associations",
}


class AddonObjects(Protocol):
    """A cluster's Kubernetes API, as the add-ons see it (the local clusters plug in here)."""

    def install(self, cluster: str, objects: list[dict]) -> bool:
        """Create or replace ``objects``; False if the cluster has no API (yet)."""

    def remove(self, cluster: str, objects: list[dict]) -> None:
        """Delete ``objects`` (what is gone already is no error)."""

    def workload_ready(self, cluster: str, kind: str, namespace: str, name: str) -> bool:
        """Whether the workload has what it wants ready."""


@dataclass
class _Addon:
    cluster: Any  # moto's Cluster: the add-on lives as long as this very object is the cluster
    name: str
    version: str
    configuration: dict
    body: dict
    created_at: float
    status: str = "CREATING"  # CREATING, INSTALLED (then ACTIVE/DEGRADED by its workload) or DELETING
    objects: list[dict] = field(default_factory=list)


class EksAddons:
    """Add-ons and Pod Identity associations per (account, region, cluster name), beside moto's EKS backend."""

    def __init__(self, timeline: Timeline, durations: Any, objects: AddonObjects):
        self.timeline = timeline
        self.durations = durations
        self.objects = objects
        self._addons: dict[tuple[str, str, str], dict[str, _Addon]] = {}
        self._associations: dict[tuple[str, str, str], dict[str, dict]] = {}
        self._owners: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.RLock()

    # -- the moto URL handler ---------------------------------------------------------------------------------
    def handle(self, request: Any, full_url: str, headers: Any) -> tuple[int, dict, str]:
        """Route by method and path."""
        url = urlparse(full_url)
        _, cluster_name, collection, *rest = unquote(url.path).strip("/").split("/", 3)
        account, region = _account_region(request)
        cluster = moto_patches.eks_backend(account, region).clusters.get(cluster_name)
        if cluster is None:
            return _error(404, "ResourceNotFoundException", f"No cluster found for name: {cluster_name}.",
                          clusterName=cluster_name)
        body = json.loads(request.data) if request.data else {}
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        key = (account, region, cluster_name)
        with self._lock:
            self._forget_if_replaced(key, cluster)
            item = rest[0] if rest else None
            if collection == "addons":
                return self._addon_call(request.method, key, cluster, item, body, query)
            return self._association_call(request.method, key, cluster, item, body, query)

    # -- add-ons ----------------------------------------------------------------------------------------------
    def _addon_call(self, method, key, cluster, name, body, query):
        addons = self._addons.setdefault(key, {})
        if name is None and method == "POST":
            return self._create_addon(key, cluster, addons, body)
        if name is None:
            return 200, {}, json.dumps({"addons": sorted(addons)})
        addon = addons.get(name)
        if addon is None:
            return _error(404, "ResourceNotFoundException", f"No addon: {name} found in cluster: {cluster.name}",
                          clusterName=cluster.name, addonName=name)
        if method == "DELETE":
            self._delete_addon(key, addons, addon, preserve=query.get("preserve") == "true")
        return 200, {}, json.dumps({"addon": self._view(key, addon)})

    def _create_addon(self, key, cluster, addons, body):
        name = body.get("addonName", "")
        catalogue = addon_objects.CATALOGUE.get(name)
        if catalogue is None:
            return _error(400, "InvalidParameterException", f"Addon {name} specified is not supported",
                          clusterName=cluster.name, addonName=name)
        if name in addons:
            return _error(409, "ResourceInUseException", f"Addon already exists: {name}",
                          clusterName=cluster.name, addonName=name)
        if cluster.status != "ACTIVE":
            return _error(400, "InvalidRequestException", f"Cluster {cluster.name} is in {cluster.status} state",
                          clusterName=cluster.name, addonName=name)
        try:
            configuration = addon_objects.configuration(name, body.get("configurationValues"))
        except addon_objects.InvalidConfiguration as problem:
            return _error(400, "InvalidParameterException", str(problem), clusterName=cluster.name, addonName=name)
        now = datetime.now(timezone.utc).timestamp()
        arn = cluster.arn.replace(":cluster/", ":addon/") + f"/{name}/{uuid.uuid4()}"
        addon = _Addon(cluster, name, body.get("addonVersion") or catalogue.version, configuration, {
            "addonName": name, "clusterName": cluster.name, "addonArn": arn, "createdAt": now, "modifiedAt": now,
            "tags": body.get("tags") or {}, "configurationValues": body.get("configurationValues") or "",
            "serviceAccountRoleArn": body.get("serviceAccountRoleArn"), "owner": "aws", "publisher": "eks",
        }, self.timeline.clock.time())
        owned = []
        for wanted in body.get("podIdentityAssociations") or []:  # associations the add-on owns (ownerArn)
            made = self._new_association(key, cluster, {"namespace": catalogue.namespace, **wanted}, owner=arn)
            if isinstance(made, tuple):
                return made
            owned.append(made["associationArn"])
        addon.body["podIdentityAssociations"] = owned
        addons[name] = addon
        self.timeline.after(self.durations.addon_create, lambda: self._install(key, addon))
        return 200, {}, json.dumps({"addon": self._view(key, addon)})

    def _install(self, key, addon: _Addon) -> None:
        """EKS applies the add-on's objects once the cluster API takes them; until then it stays CREATING."""
        with self._lock:
            if addon.status != "CREATING" or self._addons.get(key, {}).get(addon.name) is not addon:
                return
            addon.objects = addon_objects.objects_of(addon.name, addon.version, addon.configuration)
            if self.objects.install(key[2], addon.objects):
                addon.status = "INSTALLED"
                return
        if addon.cluster.status == "ACTIVE":  # its API is not up yet: try again
            self.timeline.after(30, lambda: self._install(key, addon))

    def _delete_addon(self, key, addons, addon: _Addon, preserve: bool) -> None:
        if addon.status == "DELETING":
            return
        addon.status = "DELETING"
        owned = set(addon.body.get("podIdentityAssociations") or [])
        associations = self._associations.get(key, {})
        for association_id in [i for i, a in associations.items() if a["associationArn"] in owned]:
            associations.pop(association_id)

        def remove() -> None:
            with self._lock:
                if addons.get(addon.name) is addon:
                    addons.pop(addon.name)
            if not preserve and addon.objects:
                self.objects.remove(key[2], addon.objects)
        self.timeline.after(self.durations.addon_delete, remove)

    def _view(self, key, addon: _Addon) -> dict:
        status, issues = addon.status, []
        if status == "INSTALLED":
            workload = addon_objects.CATALOGUE[addon.name].workload
            if workload is None or self.objects.workload_ready(key[2], *workload):
                status = "ACTIVE"
            else:
                status = "DEGRADED"
                issues = [{"code": "InsufficientNumberOfReplicas", "resourceIds": [workload[2]],
                           "message": "The add-on is unhealthy because it doesn't have the desired number of "
                                      "replicas."}]
        return {**addon.body, "status": status, "addonVersion": addon.version, "health": {"issues": issues}}

    # -- Pod Identity associations ----------------------------------------------------------------------------
    def _association_call(self, method, key, cluster, association_id, body, query):
        associations = self._associations.setdefault(key, {})
        if association_id is None and method == "POST":
            made = self._new_association(key, cluster, body)
            return made if isinstance(made, tuple) else (200, {}, json.dumps({"association": made}))
        if association_id is None:
            found = [a for a in associations.values()
                     if query.get("namespace") in (None, a["namespace"])
                     and query.get("serviceAccount") in (None, a["serviceAccount"])]
            summary = ("clusterName", "namespace", "serviceAccount", "associationArn", "associationId", "ownerArn")
            return 200, {}, json.dumps({"associations": [{k: a[k] for k in summary if a.get(k)} for a in found]})
        association = associations.get(association_id)
        if association is None:
            return _error(404, "ResourceNotFoundException",
                          f"Could not find association with id {association_id} in cluster {cluster.name}",
                          clusterName=cluster.name)
        if method == "DELETE":
            associations.pop(association_id)
        return 200, {}, json.dumps({"association": association})

    def _new_association(self, key, cluster, body, owner: str | None = None):
        namespace, account = body.get("namespace", ""), body.get("serviceAccount", "")
        role = body.get("roleArn", "")
        if not namespace or not account or not role.startswith("arn:") or ":role/" not in role:
            return _error(400, "InvalidParameterException",
                          "namespace, serviceAccount and an IAM role ARN (roleArn) are required",
                          clusterName=cluster.name)
        associations = self._associations.setdefault(key, {})
        taken = next((a for a in associations.values()
                      if (a["namespace"], a["serviceAccount"]) == (namespace, account)), None)
        if taken is not None:  # one association per service account
            return _error(409, "ResourceInUseException", f"Association already exists: {taken['associationId']}",
                          clusterName=cluster.name)
        now = datetime.now(timezone.utc).timestamp()
        association_id = "a-" + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(17))
        association = {
            "clusterName": cluster.name, "namespace": namespace, "serviceAccount": account, "roleArn": role,
            "associationArn": cluster.arn.replace(":cluster/", ":podidentityassociation/") + f"/{association_id}",
            "associationId": association_id, "tags": body.get("tags") or {}, "createdAt": now, "modifiedAt": now,
            "disableSessionTags": bool(body.get("disableSessionTags", False)),
            **({"ownerArn": owner} if owner else {}),
        }
        associations[association_id] = association
        return association

    # -- a cluster's add-ons go with it -----------------------------------------------------------------------
    def _forget_if_replaced(self, key, cluster) -> None:
        if self._owners.get(key) is not cluster:
            self._owners[key] = cluster
            self._addons.pop(key, None)
            self._associations.pop(key, None)


def _error(status: int, kind: str, message: str, **fields: str) -> tuple[int, dict, str]:
    return status, {"x-amzn-ErrorType": kind}, json.dumps({"message": message, **fields})


def _account_region(request: Any) -> tuple[str, str]:
    from coursehub_local.access_entries import _account_region as account_region

    return account_region(request)

