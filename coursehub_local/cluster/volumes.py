"""PersistentVolumeClaims bind to EBS volumes only when what EKS needs for that is there, as on EKS >= 1.30.

Plays Kubernetes' PV controller (kubernetes ``pkg/controller/volume/persistentvolume/pv_controller.go``,
``syncUnboundClaim``) and the EBS CSI driver's external provisioner. An unbound claim stays Pending, with the
event the real component records, until every condition holds:

1. A storage class: the claim's ``storageClassName``, or, when it names none (the key absent or null), the
   cluster's default StorageClass (``storageclass.kubernetes.io/is-default-class: "true"``, the newest if several),
   which is written into the claim, also later (retroactive default assignment, GA in Kubernetes 1.28). Without
   one: ``FailedBinding`` "no persistent volumes available for this claim and no storage class is set"; a named
   class that does not exist: ``ProvisioningFailed`` ``storageclass.storage.k8s.io "<name>" not found``. EKS has
   marked no class default since 1.30 (EKS user guide, kubernetes-versions-standard); its ``aws-ebs-csi-driver``
   add-on makes ``ebs-csi-default-sc`` with ``defaultStorageClass.enabled`` (``coursehub_local.addon_objects``).
2. ``WaitForFirstConsumer``: a workload with replicas that mounts the claim and a Ready node for its pod (the
   scheduler's choice, written as ``volume.kubernetes.io/selected-node``); the volume is made in that node's zone.
   Else ``WaitForFirstConsumer`` "waiting for first consumer to be created before binding".
3. A running provisioner: ``ebs.csi.aws.com`` (in-tree ``kubernetes.io/aws-ebs`` classes are migrated to it since
   1.23, CSIMigrationAWS) served by the driver's controller (``ebs_driver.controller``). Else ``ExternalProvisioning``
   "Waiting for a volume to be created either by the external provisioner '<name>' ...".
4. Working AWS credentials for the controller (``ebs_driver.credentials_problem``). Else ``ProvisioningFailed``
   with the driver's error, retried with the external-provisioner's backoff (1 s doubling to 5 min, its
   ``--retry-interval-start``/``--retry-interval-max`` defaults, kubernetes-csi/external-provisioner README).

Then, ``volume_ready`` simulated seconds later, an EBS volume (size rounded up to whole GiB, the class's ``type`` or
the driver's gp3) exists in moto with the driver's tags, a PersistentVolume ``pvc-<claim uid>`` (CSI, the class's
reclaim policy, node affinity to the volume's zone) is bound to it and the claim is Bound with the
``kubernetes.io/pvc-protection`` finalizer (``volume_attachments`` attaches the volume while pods use it).

When the claim goes, the PV controller (in the control plane, no node needed) marks its PersistentVolume Released.
Deleting the volume is not the control plane's work: for a CSI volume the PV controller finds no deleter plugin and
leaves it to the external deleter (kubernetes ``pv_controller.go``, ``doDeleteVolume``: "External deleter is
requested, do nothing"), the external-provisioner sidecar of the driver's controller pod, which deletes a Released
PersistentVolume with reclaim policy Delete (kubernetes-sigs/sig-storage-lib-external-provisioner
``controller/controller.go``, ``shouldDelete``) through the driver's DeleteVolume (aws-ebs-csi-driver
``pkg/driver/controller.go``: EC2 DeleteVolume), after its external-attacher sidecar has detached it. So with the
controller not running (no Ready node for its pod) the volume stays in EC2 and the PersistentVolume Released, and
both go once the controller runs again; without credentials the driver's EC2 calls fail and are retried with the
provisioner's backoff. An instance that terminates loses its attachments in EC2 (``volume_attachments``), which
needs no controller. Reclaim policy Retain keeps the volume for good.
"""
from __future__ import annotations

import logging
import math
import re
import threading

from botocore.exceptions import ClientError

from coursehub_local.addon_objects import DEFAULT_CLASS_ANNOTATION, DRIVER
from coursehub_local.cluster import ebs_driver
from coursehub_local.cluster.background_controller import BackgroundController
from coursehub_local.cluster.context import ClusterContext
from coursehub_local.cluster.kube_events import EventRecorder
from coursehub_local.cluster.volume_attachments import PROTECTION
from coursehub_local.cluster.workloads import KINDS, claims_mounted
from coursehub_local.kube.errors import ApiError

log = logging.getLogger(__name__)
PV_CONTROLLER = "persistentvolume-controller"
PROVISIONER = f"{DRIVER}_ebs-csi-controller"
NO_CLASS = "no persistent volumes available for this claim and no storage class is set"
FIRST_CONSUMER = "waiting for first consumer to be created before binding"
IN_TREE = "kubernetes.io/aws-ebs"
RETRY_START, RETRY_MAX = 1.0, 300.0
_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}


class VolumeController(BackgroundController):
    """Plays the PV controller and the EBS CSI provisioner for one cluster."""

    watched = frozenset({("", "persistentvolumeclaims"), ("", "nodes"), ("storage.k8s.io", "storageclasses"),
                         ("storage.k8s.io", "csidrivers"), *KINDS})
    thread_name = "volumes"
    failure_message = "volume pass failed in cluster %s"

    def __init__(self, ctx: ClusterContext):
        super().__init__(ctx)
        self.events = EventRecorder(ctx)
        self._due: dict[str, float] = {}  # claim uid -> when its volume is made (simulated time)
        self._retry: dict[str, tuple[float, float]] = {}  # claim uid -> (next try, interval) after a failure
        self._released: list[dict] = []  # deleted claims whose volumes the driver has still to delete
        self._release_retry: dict[str, tuple[float, float]] = {}  # claim uid -> (next try, interval), no credentials
        self._lock = threading.Lock()
        self._clients: dict[str, object] = {}

    def nodes_changed(self) -> None:
        self._wake.set()

    def _on_event(self, event) -> None:
        if event.key == ("", "persistentvolumeclaims") and event.type == "DELETED":
            with self._lock:
                self._released.append(event.obj)
        super()._on_event(event)

    def sync(self) -> None:
        with self._lock:
            released, self._released = self._released, []
        for claim in released:
            try:
                done = self._release(claim)
            except ClientError as error:
                log.debug("claim %s not released yet: %s", claim["metadata"]["name"], error)
                done = False
            if done is not True:  # kept, and tried again: the provisioner's work queue retries a deletion
                with self._lock:
                    self._released.append(claim)
            if done is False:  # e.g. still attached a moment longer
                self.ctx.timeline.after(RETRY_START * 5, self._wake.set)
            # None: no controller runs; its Deployment becoming ready is a watched event and wakes the next pass
        store = self.ctx.store
        for claim in store.list(store.resource_type("v1", "PersistentVolumeClaim"))[0]:
            if not claim["spec"].get("volumeName") and not claim["metadata"].get("deletionTimestamp"):
                self._reconcile(claim)

    # -- one unbound claim ------------------------------------------------------------------------------------
    def _reconcile(self, claim: dict) -> None:
        spec, uid = claim["spec"], claim["metadata"]["uid"]
        class_name = spec.get("storageClassName")
        if class_name is None:
            default = self._default_class()
            if default is not None:
                self._update(claim, lambda c: c["spec"].update(storageClassName=default["metadata"]["name"]))
                return  # the update wakes the next pass
        if not class_name:
            return self._pending(claim, "Normal", "FailedBinding", NO_CLASS, PV_CONTROLLER)
        storage_class = self._get("storage.k8s.io/v1", "StorageClass", None, class_name)
        if storage_class is None:
            return self._pending(claim, "Warning", "ProvisioningFailed",
                                 f'storageclass.storage.k8s.io "{class_name}" not found', PV_CONTROLLER)
        node = None
        if storage_class.get("volumeBindingMode") == "WaitForFirstConsumer":
            node = self._consumer_node(claim)
            if node is None:
                return self._pending(claim, "Normal", "WaitForFirstConsumer", FIRST_CONSUMER, PV_CONTROLLER)
        provisioner = DRIVER if storage_class.get("provisioner") == IN_TREE else storage_class.get("provisioner")
        controller = ebs_driver.controller(self.ctx) if provisioner == DRIVER else None
        if controller is None:
            return self._pending(claim, "Normal", "ExternalProvisioning", waiting_for(provisioner), PV_CONTROLLER)
        now = self.ctx.clock.time()
        next_try, interval = self._retry.get(uid, (0.0, RETRY_START / 2))
        if now < next_try:
            return
        problem = ebs_driver.credentials_problem(self.ctx, self._client("eks"), self._client("iam"))
        if problem:
            interval = min(interval * 2, RETRY_MAX)
            self._retry[uid] = (now + interval, interval)
            self.ctx.timeline.after(interval, self._wake.set)
            return self._pending(claim, "Warning", "ProvisioningFailed",
                                 ebs_driver.provisioning_failed(class_name, pv_name(claim), problem), PROVISIONER)
        self._retry.pop(uid, None)
        due = self._due.setdefault(uid, now + self.ctx.timings.volume_ready)
        if now < due:
            self.ctx.timeline.after(due - now, self._wake.set)
            return
        self._provision(claim, storage_class, controller, node)

    def _pending(self, claim: dict, event_type: str, reason: str, message: str, component: str) -> None:
        if (claim.get("status") or {}).get("phase") != "Pending":
            self._set_status(claim, {"phase": "Pending"})
        self.events.record(claim, "PersistentVolumeClaim", event_type, reason, message, component)

    def _default_class(self) -> dict | None:
        store = self.ctx.store
        marked = [c for c in store.list(store.resource_type("storage.k8s.io/v1", "StorageClass"))[0]
                  if (c["metadata"].get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true"]
        return max(marked, key=lambda c: c["metadata"].get("creationTimestamp", ""), default=None)

    def _consumer_node(self, claim: dict) -> dict | None:
        """A Ready node where a pod that mounts the claim can run, if such a pod exists."""
        store, namespace = self.ctx.store, claim["metadata"]["namespace"]
        consumers = [w for kind in KINDS.values() for w in store.list(store.resource_type("apps/v1", kind),
                                                                        namespace)[0]
                     if claim["metadata"]["name"] in claims_mounted(w)
                     and (w["kind"] == "DaemonSet" or (w.get("spec") or {}).get("replicas", 1) > 0)]
        if not consumers:
            return None
        selector = ((consumers[0]["spec"].get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
        nodes = [n for n in store.list(store.resource_type("v1", "Node"))[0] if _ready(n)
                 and all((n["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())]
        return min(nodes, key=lambda n: n["metadata"]["name"], default=None)

    # -- making and releasing volumes -------------------------------------------------------------------------
    def _provision(self, claim: dict, storage_class: dict, controller: dict, node: dict | None) -> None:
        namespace, name, uid = claim["metadata"]["namespace"], claim["metadata"]["name"], claim["metadata"]["uid"]
        size = size_in_gib(((claim["spec"].get("resources") or {}).get("requests") or {}).get("storage", "1Gi"))
        zone = node["metadata"]["labels"]["topology.kubernetes.io/zone"] if node else self._any_zone()
        tags = ebs_driver.volume_tags(controller, claim, pv_name(claim))
        volume = self._client("ec2").create_volume(
            Size=size, AvailabilityZone=zone, VolumeType=(storage_class.get("parameters") or {}).get("type", "gp3"),
            TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}])
        self.ctx.store.put_object(_persistent_volume(claim, volume["VolumeId"], size, zone, storage_class))
        self._due.pop(uid, None)

        def bind(current: dict) -> None:
            current["spec"]["volumeName"] = pv_name(current)
            current["metadata"]["finalizers"] = [*(current["metadata"].get("finalizers") or []), PROTECTION]
            current["metadata"].setdefault("annotations", {}).update({
                "pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes",
                "volume.kubernetes.io/storage-provisioner": DRIVER,
                "volume.beta.kubernetes.io/storage-provisioner": DRIVER,
                **({"volume.kubernetes.io/selected-node": node["metadata"]["name"]} if node else {})})
        bound = self._update(claim, bind)
        if bound is None:  # changed or deleted meanwhile: undo, the next pass starts again
            self._release(claim, undo=True)
            return
        self.events.record(bound, "PersistentVolumeClaim", "Normal", "ProvisioningSucceeded",
                           f"Successfully provisioned volume {pv_name(claim)}", PROVISIONER)
        self._set_status(bound, {"phase": "Bound", "accessModes": bound["spec"].get("accessModes", []),
                                 "capacity": {"storage": f"{size}Gi"}})

    def _release(self, claim: dict, undo: bool = False) -> bool | None:
        """Mark the claim's PersistentVolume Released; with reclaim policy Delete, let the driver's controller detach
        and delete the volume, then the PersistentVolume.

        True when done (or nothing to do), False to try again soon, None while the driver cannot delete (no
        controller running, or no credentials: then after a backoff)."""
        store = self.ctx.store
        pv = self._get("v1", "PersistentVolume", None, pv_name(claim)) or {}
        if not pv and not undo:
            return True  # never provisioned, or released already
        if not undo and (pv.get("status") or {}).get("phase") != "Released":
            self._set_status(pv, {"phase": "Released"}, "PersistentVolume")  # the PV controller, no node needed
        retain = (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy") == "Retain" and not undo
        if not undo:
            uid = claim["metadata"]["uid"]
            if ebs_driver.controller(self.ctx) is None:  # the external deleter is the controller's sidecar
                return True if retain else None  # the volume waits for it (Retain: it is kept anyway)
            now = self.ctx.clock.time()
            next_try, interval = self._release_retry.get(uid, (0.0, RETRY_START / 2))
            if now < next_try:
                return None
            if ebs_driver.credentials_problem(self.ctx, self._client("eks"), self._client("iam")):
                if retain:
                    return True
                interval = min(interval * 2, RETRY_MAX)
                self._release_retry[uid] = (now + interval, interval)
                self.ctx.timeline.after(interval, self._wake.set)
                return None
            self._release_retry.pop(uid, None)
        ec2 = self._client("ec2")
        volumes = ec2.describe_volumes(Filters=[{"Name": "tag:CSIVolumeName", "Values": [pv_name(claim)]}])["Volumes"]
        for attached in volumes:
            for attachment in attached.get("Attachments", []):  # the external-attacher's ControllerUnpublish
                ec2.detach_volume(VolumeId=attached["VolumeId"], InstanceId=attachment["InstanceId"])
        if retain:
            return True  # the volume is kept for whoever tears down
        deleted = True
        for volume in volumes:
            try:
                ec2.delete_volume(VolumeId=volume["VolumeId"])
            except ClientError as error:
                log.info("EBS volume %s of claim %s not deleted yet: %s", volume["VolumeId"],
                         claim["metadata"]["name"], error)
                deleted = False
        if deleted:  # the PersistentVolume goes once its volume has
            try:
                store.delete(store.resource_type("v1", "PersistentVolume"), None, pv_name(claim))
            except ApiError:
                pass
        return deleted

    def _any_zone(self) -> str:
        """For Immediate binding: the zone of a node's instance, else of the cluster's first subnet."""
        ec2 = self._client("ec2")
        reservations = ec2.describe_instances(Filters=[
            {"Name": "tag:eks:cluster-name", "Values": [self.ctx.name]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]
        instances = sorted((i for r in reservations for i in r["Instances"]), key=lambda i: i["InstanceId"])
        if instances:
            return instances[0]["Placement"]["AvailabilityZone"]
        subnet = self.ctx.cluster.resources_vpc_config["subnetIds"][0]
        return ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["AvailabilityZone"]

    # -- store and client helpers -----------------------------------------------------------------------------
    def _get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict | None:
        try:
            return self.ctx.store.get_object(api_version, kind, namespace, name)
        except ApiError:
            return None

    def _update(self, claim: dict, change) -> dict | None:
        store, meta = self.ctx.store, claim["metadata"]
        current = self._get("v1", "PersistentVolumeClaim", meta["namespace"], meta["name"])
        if current is None or current["metadata"]["uid"] != meta["uid"]:
            return None
        change(current)
        try:
            return store.update(store.resource_type("v1", "PersistentVolumeClaim"), current, meta["namespace"],
                                meta["name"])
        except ApiError as error:
            log.debug("claim %s/%s not updated: %s", meta["namespace"], meta["name"], error)
            return None

    def _set_status(self, obj: dict, status: dict, kind: str = "PersistentVolumeClaim") -> None:
        if not obj:
            return
        try:
            self.ctx.store.set_status("v1", kind, obj["metadata"].get("namespace"), obj["metadata"]["name"], status)
        except ApiError as error:
            log.debug("status of %s %s not set: %s", kind, obj["metadata"]["name"], error)

    def _client(self, service: str):
        if service not in self._clients:  # boto3 clients are costly to make: one per service, kept
            self._clients[service] = self.ctx.client(service)
        return self._clients[service]


def waiting_for(provisioner: str) -> str:
    """The PV controller's ExternalProvisioning message."""
    return (f"Waiting for a volume to be created either by the external provisioner '{provisioner}' or manually by "
            "the system administrator. If volume creation is delayed, please verify that the provisioner is "
            "running and correctly registered.")


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


def _ready(node: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in (node.get("status") or {}).get("conditions", []))


def _persistent_volume(claim: dict, volume_id: str, size: int, zone: str, storage_class: dict) -> dict:
    meta = claim["metadata"]
    return {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": pv_name(claim), "annotations": {"pv.kubernetes.io/provisioned-by": DRIVER}},
        "spec": {
            "capacity": {"storage": f"{size}Gi"},
            "accessModes": claim["spec"].get("accessModes", ["ReadWriteOnce"]),
            "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy", "Delete"),
            "storageClassName": storage_class["metadata"]["name"],
            "volumeMode": claim["spec"].get("volumeMode", "Filesystem"),
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": meta["namespace"],
                         "name": meta["name"], "uid": meta["uid"], "resourceVersion": meta.get("resourceVersion")},
            "csi": {"driver": DRIVER, "volumeHandle": volume_id, "fsType": "ext4"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "topology.kubernetes.io/zone", "operator": "In", "values": [zone]}]}]}},
        },
        "status": {"phase": "Bound"},
    }
