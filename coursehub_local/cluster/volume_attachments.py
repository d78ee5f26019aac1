"""EBS volumes follow the pods that mount them, and a claim in use is kept until its pods are gone.

What the attach/detach controller with the EBS CSI driver (ControllerPublish/Unpublish) and the
PVC protection controller do, on the workload level the local clusters model:

- A bound claim's volume is attached to a running node instance in the volume's zone while a READY
  workload in its namespace mounts it (a pod template volume naming the claim); otherwise it is
  detached. A terminated instance (a node group scaled to 0 or deleted) loses its attachments, as in EC2.
- A bound claim carries ``kubernetes.io/pvc-protection`` (``volumes`` adds it when it binds). A
  deleted claim stays Terminating while a workload with replicas still mounts it (its pods exist,
  Pending or not); then the finalizer goes, and ``volumes`` deletes the volume, detached first, once the
  driver's controller runs (it needs a Ready node).
"""
from __future__ import annotations

import logging
import string

from coursehub_local.cluster.background_controller import BackgroundController
from coursehub_local.cluster.context import ClusterContext
from coursehub_local.cluster.nodes import cluster_instances
from coursehub_local.cluster.workloads import KINDS, claims_mounted, has_ready_replica
from coursehub_local.kube.errors import ApiError

log = logging.getLogger(__name__)
PROTECTION = "kubernetes.io/pvc-protection"


class VolumeAttachments(BackgroundController):
    """Attaches and detaches a cluster's EBS volumes, and releases deleted claims no pod uses."""

    watched = frozenset({("", "persistentvolumeclaims"), *KINDS})
    thread_name = "volume-attachments"
    failure_message = "volume attachment pass failed in cluster %s"

    def __init__(self, ctx: ClusterContext):
        super().__init__(ctx)
        self._ec2 = None  # made on first use, then kept: boto3 clients are costly to make

    def nodes_changed(self) -> None:
        """Instances came or went: attach again where workloads run."""
        self._wake.set()

    def sync(self) -> None:
        store = self.ctx.store
        claims = store.list(store.resource_type("v1", "PersistentVolumeClaim"))[0]
        workloads = [w for kind in KINDS.values() for w in store.list(store.resource_type("apps/v1", kind))[0]]
        for claim in claims:
            if claim["metadata"].get("deletionTimestamp") and not _mounters(claim, workloads, in_use):
                self._unprotect(claim)
        self._attach({_volume_handle(store, c): bool(_mounters(c, workloads, has_ready_replica)) for c in claims
                      if c["spec"].get("volumeName")})

    def _attach(self, wanted: dict[str | None, bool]) -> None:
        wanted.pop(None, None)
        if not wanted:
            return
        if self._ec2 is None:
            self._ec2 = self.ctx.client("ec2")
        ec2 = self._ec2
        volumes = ec2.describe_volumes(Filters=[{"Name": "volume-id", "Values": sorted(wanted)}])["Volumes"]
        instances = cluster_instances(ec2, self.ctx.name, ("running",))
        devices = {i["InstanceId"]: {m["DeviceName"] for m in i.get("BlockDeviceMappings", [])} for i in instances}
        for volume in volumes:
            attached = [a["InstanceId"] for a in volume.get("Attachments", [])]
            if wanted[volume["VolumeId"]] and not attached:
                nodes = [i["InstanceId"] for i in instances
                         if i["Placement"]["AvailabilityZone"] == volume["AvailabilityZone"]]
                if nodes:  # else the pod stays Pending (volume node affinity conflict)
                    device = _free_device(devices[nodes[0]])
                    ec2.attach_volume(VolumeId=volume["VolumeId"], InstanceId=nodes[0], Device=device)
                    devices[nodes[0]].add(device)
            elif attached and not wanted[volume["VolumeId"]]:
                ec2.detach_volume(VolumeId=volume["VolumeId"], InstanceId=attached[0])

    def _unprotect(self, claim: dict) -> None:
        finalizers = claim["metadata"].get("finalizers") or []
        if PROTECTION not in finalizers:
            return
        claim["metadata"]["finalizers"] = [f for f in finalizers if f != PROTECTION]
        store = self.ctx.store
        try:
            store.update(store.resource_type("v1", "PersistentVolumeClaim"), claim,
                         claim["metadata"]["namespace"], claim["metadata"]["name"])
        except ApiError as error:  # changed meanwhile: its event wakes the next pass
            log.debug("claim %s not released: %s", claim["metadata"]["name"], error)


def in_use(workload: dict) -> bool:
    """Whether a workload has pods at all (running or Pending)."""
    return workload["kind"] == "DaemonSet" or (workload.get("spec") or {}).get("replicas", 1) > 0


def _mounters(claim: dict, workloads: list[dict], test) -> list[dict]:
    """Workloads in the claim's namespace passing ``test`` whose pods mount the claim."""
    namespace, name = claim["metadata"]["namespace"], claim["metadata"]["name"]
    return [w for w in workloads if w["metadata"].get("namespace") == namespace and test(w)
            and name in claims_mounted(w)]


def _volume_handle(store, claim: dict) -> str | None:
    try:
        volume = store.get_object("v1", "PersistentVolume", None, claim["spec"]["volumeName"])
    except ApiError:
        return None
    return ((volume.get("spec") or {}).get("csi") or {}).get("volumeHandle")


def _free_device(used: set[str]) -> str:
    """The first of /dev/xvdaa, /dev/xvdab, ... not in ``used`` (the driver's naming)."""
    return next(d for d in (f"/dev/xvda{c}" for c in string.ascii_lowercase) if d not in used)
