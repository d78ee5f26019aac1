"""Gives each ACTIVE EKS cluster of the local stack its own Kubernetes API and controllers.

``describe_cluster`` then returns that API's endpoint and CA (base64 PEM)
exactly where AWS puts them, and the API accepts only EKS tokens for this
cluster signed with the stack's credentials.
"""
from __future__ import annotations

import base64
import logging
import threading
from typing import Any, Callable

from coursehub_local.acme_ca import LocalAcmeCa
from coursehub_local.clock import Clock
from coursehub_local.cluster.certificates import CertificateController
from coursehub_local.cluster.context import ClusterContext, ControllerTimings
from coursehub_local.cluster.ingress import IngressController
from coursehub_local.cluster.jobs import JobController
from coursehub_local.cluster.load_balancers import LoadBalancerController
from coursehub_local.cluster.nodes import NodeController
from coursehub_local.cluster.volume_attachments import VolumeAttachments
from coursehub_local.cluster.volumes import VolumeController
from coursehub_local.cluster.workloads import WorkloadController, has_ready_replica
from coursehub_local.dns import LocalDns
from coursehub_local.kube.auth import make_eks_token_verifier
from coursehub_local.kube.errors import ApiError
from coursehub_local.kube.server import KubeApiServer
from coursehub_local.timeline import Timeline

log = logging.getLogger(__name__)


class LocalClusters:
    """The ``ClusterApiProvider`` of the local stack."""

    def __init__(self, clock: Clock, timeline: Timeline, client: Callable[[str], Any],
                 secret_key_for: Callable[[str], str | None], sts_endpoints: Callable[[], list[str]],
                 timings: ControllerTimings | None = None, host: str = "127.0.0.1",
                 dns: LocalDns | None = None, acme_ca: LocalAcmeCa | None = None):
        self.clock = clock
        self.timeline = timeline
        self.client = client
        self.secret_key_for = secret_key_for
        self.sts_endpoints = sts_endpoints
        self.timings = timings or ControllerTimings()
        self.host = host
        self.dns = dns or LocalDns(client)  # stack-wide: the HTTPS proxy resolves through the same one
        self.acme_ca = acme_ca or LocalAcmeCa()
        self.clusters: dict[str, _Cluster] = {}
        self._lock = threading.Lock()

    def cluster_active(self, cluster: Any) -> None:
        verify = make_eks_token_verifier(cluster.name, self.secret_key_for, sts_endpoints=self.sts_endpoints())
        server = KubeApiServer(cluster.name, verify_token=verify, host=self.host,
                               kubernetes_version=cluster.version).start()
        ctx = ClusterContext(cluster.name, cluster, server, self.clock, self.timeline, self.client, self.timings)
        running = _Cluster(ctx, self.dns, self.acme_ca)
        with self._lock:
            self.clusters[cluster.name] = running
        cluster.endpoint = server.endpoint
        cluster.certificate_authority = {"data": base64.b64encode(server.ca_pem).decode()}

    def cluster_deleted(self, cluster: Any) -> None:
        with self._lock:
            running = self.clusters.pop(cluster.name, None)
        if running:
            running.stop()

    def nodegroups_changed(self, cluster: Any) -> None:
        running = self.clusters.get(cluster.name)
        if running:
            running.nodegroups_changed()

    # -- what EKS add-ons put into a cluster (coursehub_local.eks_addons.AddonObjects) --------------------------
    def install(self, cluster: str, objects: list[dict]) -> bool:
        running = self.clusters.get(cluster)
        if running is None:
            return False
        for obj in objects:
            running.ctx.store.put_object(obj)
        return True

    def remove(self, cluster: str, objects: list[dict]) -> None:
        running = self.clusters.get(cluster)
        if running is None:
            return
        store = running.ctx.store
        for obj in objects:
            try:
                store.delete(store.resource_type(obj["apiVersion"], obj["kind"]), obj["metadata"].get("namespace"),
                             obj["metadata"]["name"])
            except ApiError:
                pass  # gone already

    def workload_ready(self, cluster: str, kind: str, namespace: str, name: str) -> bool:
        running = self.clusters.get(cluster)
        try:
            return running is not None and has_ready_replica(
                running.ctx.store.get_object("apps/v1", kind, namespace, name))
        except ApiError:
            return False

    def server(self, name: str) -> KubeApiServer:
        """The API server of a running cluster (for tests and the demo)."""
        return self.clusters[name].ctx.server

    def stop(self) -> None:
        with self._lock:
            running, self.clusters = list(self.clusters.values()), {}
        for cluster in running:
            cluster.stop()


class _Cluster:
    """One cluster's API server and controllers."""

    def __init__(self, ctx: ClusterContext, dns: LocalDns, acme_ca: LocalAcmeCa):
        self.ctx = ctx
        self.ingress = IngressController(ctx, dns)
        self.ingress.start()
        self.certificates = CertificateController(ctx, dns, acme_ca)
        self.certificates.start()
        self.nodes = NodeController(ctx)
        self.workloads = WorkloadController(ctx, self.nodes)
        self.workloads.start()
        self.jobs = JobController(ctx, self.nodes)
        self.jobs.start()
        self.load_balancers = LoadBalancerController(ctx)
        self.load_balancers.start()
        self.volumes = VolumeController(ctx)
        self.volumes.start()
        self.attachments = VolumeAttachments(ctx)
        self.attachments.start()

    def nodegroups_changed(self) -> None:
        self.nodes.sync()
        self.workloads.nodes_changed()
        self.jobs.nodes_changed()
        self.load_balancers.nodes_changed()
        self.volumes.nodes_changed()
        self.attachments.nodes_changed()

    def stop(self) -> None:
        """Stop everything that plays the cluster's controllers: what they have not cleaned up stays in AWS."""
        self.workloads.stop()
        self.jobs.stop()
        self.load_balancers.stop()
        self.volumes.stop()
        self.attachments.stop()
        self.ctx.server.stop()
        self.certificates.stop()  # after the API, so it goes away as soon as the cluster does
        self.ingress.stop()
