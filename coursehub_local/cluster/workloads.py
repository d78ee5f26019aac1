"""Deployments, StatefulSets and DaemonSets become ready after a while when nodes are Ready, and unready without nodes.

A pod that mounts a PersistentVolumeClaim (a pod template volume with ``persistentVolumeClaim.claimName``) starts
only once the claim is Bound (kube-scheduler's VolumeBinding plugin: "pod has unbound immediate
PersistentVolumeClaims") and only on a node in the zone of the claim's volume (an EBS volume lives in one
Availability Zone; its PersistentVolume's node affinity names it, and the VolumeZone/VolumeBinding filters keep the
pod off other zones: "volume node affinity conflict"). So such a workload is ready only when every claim it mounts
is Bound and a Ready node is in each volume's zone.
"""
from __future__ import annotations

import logging

from coursehub_local.cluster.nodes import NodeFollower
from coursehub_local.kube.errors import ApiError

log = logging.getLogger(__name__)
KINDS = {("apps", "deployments"): "Deployment", ("apps", "statefulsets"): "StatefulSet",
         ("apps", "daemonsets"): "DaemonSet"}
WORKLOAD_KINDS = tuple(KINDS.values())


class WorkloadController(NodeFollower):
    """Plays the scheduler and kubelets: fills in workload ``status`` on the stack's clock."""

    def nodes_changed(self) -> None:
        """Nodes came or went: everything goes unready at once, or becomes ready after the usual delay."""
        ready = self.nodes.ready_nodes()
        for kind in KINDS.values():
            for obj in self.ctx.store.list(self.ctx.store.resource_type("apps/v1", kind))[0]:
                if ready == 0 or not self._volumes_ready(obj):
                    self._set(obj, ready=False)
                elif not _is_ready(obj):
                    self._schedule(obj)

    def _on_event(self, event) -> None:
        if event.key == ("", "persistentvolumeclaims") and event.type != "DELETED":
            self._claim_changed(event.obj)
            return
        if event.key not in KINDS or event.type == "DELETED":
            return
        obj = event.obj
        if obj["metadata"].get("generation") != obj.get("status", {}).get("observedGeneration"):
            self._set(obj, ready=False)
            self._schedule(obj)

    def _schedule(self, obj: dict) -> None:
        kind, namespace, name = obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]

        def become_ready() -> None:
            try:
                current = self.ctx.store.get_object("apps/v1", kind, namespace, name)
            except ApiError:
                return  # deleted meanwhile
            self._set(current, ready=self.nodes.ready_nodes() > 0 and self._volumes_ready(current))
        self.ctx.timeline.after(self.ctx.timings.workload_ready, become_ready)

    def _claim_changed(self, claim: dict) -> None:
        """A claim got Bound: the unready workloads that mount it may start now."""
        if (claim.get("status") or {}).get("phase") != "Bound":
            return
        store, namespace = self.ctx.store, claim["metadata"]["namespace"]
        for kind in WORKLOAD_KINDS:
            for obj in store.list(store.resource_type("apps/v1", kind), namespace)[0]:
                if claim["metadata"]["name"] in claims_mounted(obj) and not _is_ready(obj):
                    self._schedule(obj)

    def _volumes_ready(self, obj: dict) -> bool:
        """Whether every claim the pods mount is Bound to a volume in the zone of some Ready node."""
        claims = claims_mounted(obj)
        if not claims:
            return True
        store = self.ctx.store
        zones = {(n["metadata"].get("labels") or {}).get("topology.kubernetes.io/zone")
                 for n in store.list(store.resource_type("v1", "Node"))[0]
                 if any(c["type"] == "Ready" and c["status"] == "True"
                        for c in (n.get("status") or {}).get("conditions", []))}
        for name in claims:
            try:
                claim = store.get_object("v1", "PersistentVolumeClaim", obj["metadata"].get("namespace"), name)
                volume = store.get_object("v1", "PersistentVolume", None, claim["spec"].get("volumeName") or "-")
            except ApiError:
                return False
            if (claim.get("status") or {}).get("phase") != "Bound" or _zone_of(volume) not in zones:
                return False
        return True

    def _set(self, obj: dict, ready: bool) -> None:
        status = _status(obj, ready, self.nodes.ready_nodes())
        try:
            self.ctx.store.set_status("apps/v1", obj["kind"], obj["metadata"].get("namespace"),
                                      obj["metadata"]["name"], status)
        except ApiError as error:
            log.debug("status of %s/%s not set: %s", obj["kind"], obj["metadata"]["name"], error)


def has_ready_replica(workload: dict) -> bool:
    """Whether at least one of the workload's pods is ready (enough for a Service to have an endpoint)."""
    status = workload.get("status") or {}
    ready = status.get("numberReady") if workload["kind"] == "DaemonSet" else status.get("readyReplicas")
    return (ready or 0) > 0


def ready_workloads(store, namespace: str, selector: dict) -> list[dict]:
    """Workloads in ``namespace`` with a ready replica whose pod template labels include ``selector``."""
    found = []
    for kind in WORKLOAD_KINDS:
        for workload in store.list(store.resource_type("apps/v1", kind), namespace)[0]:
            template = (workload.get("spec") or {}).get("template") or {}
            labels = (template.get("metadata") or {}).get("labels") or {}
            if has_ready_replica(workload) and all(labels.get(k) == v for k, v in selector.items()):
                found.append(workload)
    return found


def claims_mounted(workload: dict) -> set[str]:
    """The PersistentVolumeClaims the workload's pod template mounts."""
    template = ((workload.get("spec") or {}).get("template") or {}).get("spec") or {}
    return {v["persistentVolumeClaim"].get("claimName") for v in template.get("volumes") or []
            if v.get("persistentVolumeClaim")}


def _zone_of(volume: dict) -> str | None:
    """The zone a PersistentVolume's node affinity pins it to."""
    terms = (((volume.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}).get(
        "nodeSelectorTerms") or []
    return next((e["values"][0] for t in terms for e in t.get("matchExpressions") or []
                 if e.get("key") == "topology.kubernetes.io/zone" and e.get("values")), None)


def _is_ready(obj: dict) -> bool:
    status = obj.get("status", {})
    if obj["kind"] == "DaemonSet":
        return status.get("numberReady", 0) >= status.get("desiredNumberScheduled", 1) > 0
    return status.get("readyReplicas", 0) >= obj.get("spec", {}).get("replicas", 1)


def _status(obj: dict, ready: bool, node_count: int) -> dict:
    generation = obj["metadata"].get("generation", 1)
    if obj["kind"] == "DaemonSet":
        count = node_count if ready else 0
        return {"observedGeneration": generation, "desiredNumberScheduled": node_count,
                "currentNumberScheduled": node_count, "updatedNumberScheduled": node_count,
                "numberReady": count, "numberAvailable": count,
                "numberUnavailable": node_count - count}
    replicas = obj.get("spec", {}).get("replicas", 1)
    up = replicas if ready else 0
    status = {"observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
              "readyReplicas": up, "availableReplicas": up}
    if obj["kind"] == "Deployment":
        status["unavailableReplicas"] = replicas - up
        status["conditions"] = [
            {"type": "Available", "status": "True" if ready else "False",
             "reason": "MinimumReplicasAvailable" if ready else "MinimumReplicasUnavailable",
             "message": "Deployment has minimum availability." if ready
             else "Deployment does not have minimum availability."},
            {"type": "Progressing", "status": "True",
             "reason": "NewReplicaSetAvailable" if ready else "ReplicaSetUpdated",
             "message": f'ReplicaSet "{obj["metadata"]["name"]}" is progressing.'},
        ]
    else:
        status["currentReplicas"] = replicas
    return status
