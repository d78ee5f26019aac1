"""PersistentVolumeClaims get EBS volumes in moto, as the EBS CSI driver's dynamic provisioning does.

A new, unbound claim is Pending; ``volume_ready`` simulated seconds later an EBS volume exists (size
rounded up to whole GiB, in the Availability Zone of a node's instance or else the first subnet's,
tagged as the driver tags it), a PersistentVolume ``pvc-<claim uid>`` (CSI ``ebs.csi.aws.com``,
volumeHandle = volume id, the reclaim policy of its StorageClass, default Delete) is bound to it and
the claim is Bound, with the ``kubernetes.io/pvc-protection`` finalizer (``volume_attachments``
attaches the volume while pods use it and keeps a deleted claim until they are gone). When the claim
goes (directly or with its namespace) the volume is detached, and with Delete the PersistentVolume and
the EBS volume are deleted; with Retain the PersistentVolume is Released and the volume stays.

Tags: the driver's own (``CSIVolumeName``, ``ebs.csi.aws.com/cluster``), the external provisioner's
``kubernetes.io/created-for/*`` (``--extra-create-metadata``), and, as if the driver ran with
``--k8s-tag-cluster-id=<cluster>`` (chart value ``controller.k8sTagClusterId``),
``kubernetes.io/cluster/<cluster>: owned``, ``KubernetesCluster`` and ``Name``. Without that setting
a real volume has no cluster tag at all (aws-ebs-csi-driver ``docs/tagging.md``).

Kubernetes version: since 1.23 (CSIMigrationAWS) EKS provisions EBS volumes only through the
aws-ebs-csi-driver add-on, and since 1.30 EKS no longer marks its ``gp2`` StorageClass as default, so on
a real cluster a claim without the add-on (or, on 1.30+, without a storageClassName or a default
class) stays Pending. The local clusters report kubelet 1.33 and behave as if the add-on were
installed and a default class existed: every claim is provisioned, with the volume type of its
StorageClass's ``type`` parameter when that class exists, else the driver's default gp3.
"""
from __future__ import annotations

import logging
import math
import re
import threading

from botocore.exceptions import ClientError

from coursehub_local.cluster.context import ClusterContext
from coursehub_local.cluster.volume_attachments import PROTECTION
from coursehub_local.kube.errors import ApiError

log = logging.getLogger(__name__)
DRIVER = "ebs.csi.aws.com"
_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}


class VolumeController:
    """Plays the EBS CSI controller and the PV binder for one cluster."""

    def __init__(self, ctx: ClusterContext):
        self.ctx = ctx
        self._due: set[str] = set()  # claim uids waiting for their volume
        self._lock = threading.Lock()
        self._ec2 = None
        self._unsubscribe = None

    def start(self) -> None:
        self._unsubscribe = self.ctx.store.subscribe(self._on_event)
        for claim in self.ctx.store.list(self.ctx.store.resource_type("v1", "PersistentVolumeClaim"))[0]:
            self._provision_later(claim)

    def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()

    def nodes_changed(self) -> None:
        """Nothing to do: volumes stay where they were made (new ones follow the nodes' zones)."""

    def _on_event(self, event) -> None:
        if event.key != ("", "persistentvolumeclaims"):
            return
        if event.type == "DELETED":
            self._release(event.obj)
        else:
            self._provision_later(event.obj)

    def _provision_later(self, claim: dict) -> None:
        uid = claim["metadata"]["uid"]
        with self._lock:
            if claim["spec"].get("volumeName") or uid in self._due:
                return
            self._due.add(uid)
        self._set_status(claim, {"phase": "Pending"})
        self.ctx.timeline.after(self.ctx.timings.volume_ready, lambda: self._provision(claim))

    def _provision(self, claim: dict) -> None:
        namespace, name = claim["metadata"]["namespace"], claim["metadata"]["name"]
        with self._lock:
            self._due.discard(claim["metadata"]["uid"])
        try:
            current = self.ctx.store.get_object("v1", "PersistentVolumeClaim", namespace, name)
        except ApiError:
            return  # deleted meanwhile
        if current["metadata"]["uid"] != claim["metadata"]["uid"] or current["spec"].get("volumeName"):
            return
        size = size_in_gib(((current["spec"].get("resources") or {}).get("requests") or {}).get("storage", "1Gi"))
        zone = self._zone()
        tags = {f"kubernetes.io/cluster/{self.ctx.name}": "owned",
                "KubernetesCluster": self.ctx.name,
                "Name": f"{self.ctx.name}-dynamic-{pv_name(current)}",
                "kubernetes.io/created-for/pvc/name": name,
                "kubernetes.io/created-for/pvc/namespace": namespace,
                "kubernetes.io/created-for/pv/name": pv_name(current),
                "CSIVolumeName": pv_name(current),
                "ebs.csi.aws.com/cluster": "true"}
        storage_class = self._storage_class(current)
        volume = self._client().create_volume(
            Size=size, AvailabilityZone=zone, VolumeType=(storage_class.get("parameters") or {}).get("type", "gp3"),
            TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}])
        self.ctx.store.put_object(_persistent_volume(current, volume["VolumeId"], size, zone,
                                                     storage_class.get("reclaimPolicy", "Delete")))
        current["spec"]["volumeName"] = pv_name(current)
        current["metadata"]["finalizers"] = [*(current["metadata"].get("finalizers") or []), PROTECTION]
        current["metadata"].setdefault("annotations", {}).update({
            "pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes",
            "volume.kubernetes.io/storage-provisioner": DRIVER,
            "volume.beta.kubernetes.io/storage-provisioner": DRIVER})
        try:
            bound = self.ctx.store.update(self.ctx.store.resource_type("v1", "PersistentVolumeClaim"),
                                          current, namespace, name)
        except ApiError as error:  # changed or deleted meanwhile: undo, the next event starts again
            log.debug("claim %s/%s not bound: %s", namespace, name, error)
            self._release(current, undo=True)
            return
        self._set_status(bound, {"phase": "Bound", "accessModes": bound["spec"].get("accessModes", []),
                                 "capacity": {"storage": f"{size}Gi"}})

    def _release(self, claim: dict, undo: bool = False) -> None:
        """Detach the claim's EBS volumes, then delete them and its PersistentVolume (reclaim policy Delete) or not."""
        store = self.ctx.store
        try:
            pv = store.get_object("v1", "PersistentVolume", None, pv_name(claim))
        except ApiError:
            pv = {}  # never made, or already gone
        retain = (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy") == "Retain" and not undo
        ec2 = self._client()
        volumes = ec2.describe_volumes(Filters=[
            {"Name": f"tag:kubernetes.io/cluster/{self.ctx.name}", "Values": ["owned"]},
            {"Name": "tag:CSIVolumeName", "Values": [pv_name(claim)]}])["Volumes"]
        for attached in volumes:
            for attachment in attached.get("Attachments", []):
                ec2.detach_volume(VolumeId=attached["VolumeId"], InstanceId=attachment["InstanceId"])
        if retain:
            self._set_status(pv, {"phase": "Released"}, "PersistentVolume")
            return
        try:
            store.delete(store.resource_type("v1", "PersistentVolume"), None, pv_name(claim))
        except ApiError:
            pass
        for volume in volumes:
            try:
                ec2.delete_volume(VolumeId=volume["VolumeId"])
            except ClientError as error:
                log.warning("EBS volume %s of claim %s not deleted: %s", volume["VolumeId"],
                            claim["metadata"]["name"], error)

    def _zone(self) -> str:
        ec2 = self._client()
        reservations = ec2.describe_instances(Filters=[
            {"Name": "tag:eks:cluster-name", "Values": [self.ctx.name]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]
        instances = sorted((i for r in reservations for i in r["Instances"]), key=lambda i: i["InstanceId"])
        if instances:
            return instances[0]["Placement"]["AvailabilityZone"]
        subnet = self.ctx.cluster.resources_vpc_config["subnetIds"][0]
        return ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["AvailabilityZone"]

    def _storage_class(self, claim: dict) -> dict:
        """The claim's StorageClass ({} if it names none that exists: the driver's defaults, gp3 and Delete)."""
        name = claim["spec"].get("storageClassName")
        if name:
            try:
                return self.ctx.store.get_object("storage.k8s.io/v1", "StorageClass", None, name)
            except ApiError:
                pass
        return {}

    def _set_status(self, obj: dict, status: dict, kind: str = "PersistentVolumeClaim") -> None:
        try:
            self.ctx.store.set_status("v1", kind, obj["metadata"].get("namespace"), obj["metadata"]["name"], status)
        except ApiError as error:
            log.debug("status of %s %s not set: %s", kind, obj["metadata"]["name"], error)

    def _client(self):
        if self._ec2 is None:
            self._ec2 = self.ctx.client("ec2")
        return self._ec2


def pv_name(claim: dict) -> str:
    """The name the external provisioner gives a claim's volume."""
    return f"pvc-{claim['metadata']['uid']}"


def size_in_gib(quantity: str | int) -> int:
    """A Kubernetes quantity ("10Gi", "500M", "1e9") rounded up to whole GiB, at least 1."""
    match = re.fullmatch(r"\s*([0-9.]+(?:[eE][0-9]+)?)\s*([kMGTP]i?)?\s*", str(quantity))
    if not match:
        raise ValueError(f"not a storage quantity: {quantity!r}")
    size = float(match.group(1)) * _UNITS[match.group(2) or ""]
    return max(1, math.ceil(size / 2**30))


def _persistent_volume(claim: dict, volume_id: str, size: int, zone: str, reclaim_policy: str) -> dict:
    meta = claim["metadata"]
    return {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": pv_name(claim), "annotations": {"pv.kubernetes.io/provisioned-by": DRIVER}},
        "spec": {
            "capacity": {"storage": f"{size}Gi"},
            "accessModes": claim["spec"].get("accessModes", ["ReadWriteOnce"]),
            "persistentVolumeReclaimPolicy": reclaim_policy,
            "storageClassName": claim["spec"].get("storageClassName", ""),
            "volumeMode": claim["spec"].get("volumeMode", "Filesystem"),
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": meta["namespace"],
                         "name": meta["name"], "uid": meta["uid"], "resourceVersion": meta.get("resourceVersion")},
            "csi": {"driver": DRIVER, "volumeHandle": volume_id, "fsType": "ext4"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "topology.kubernetes.io/zone", "operator": "In", "values": [zone]}]}]}},
        },
        "status": {"phase": "Bound"},
    }
