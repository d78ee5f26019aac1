"""EKS as AWS behaves and moto does not: slow state transitions, the cluster's network, access entries.

moto makes clusters and node groups ACTIVE at once and deletes them at once.
Here creation passes through CREATING, deletion through DELETING, and a scaling
update through UPDATING, each over a duration of simulated time. An ACTIVE
cluster has what EKS makes in the customer's VPC (``ControlPlaneNetwork``) until
it is deleted. moto also lacks access entries; ``AccessEntries`` serves them
over the same endpoint.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from coursehub_local import moto_patches
from coursehub_local.timeline import Timeline


@dataclass(frozen=True)
class EksDurations:
    """Simulated seconds each transition takes (typical AWS figures)."""

    cluster_create: float = 600
    cluster_delete: float = 300
    nodegroup_create: float = 180
    nodegroup_delete: float = 240
    nodegroup_update: float = 90
    addon_create: float = 60
    addon_delete: float = 30


class ClusterApiProvider(Protocol):
    """Where each cluster's Kubernetes API comes from (the local Kubernetes API plugs in here)."""

    def cluster_active(self, cluster: Any) -> None:
        """Give an ACTIVE cluster its endpoint and CA (set ``cluster.endpoint``/``certificate_authority``)."""

    def cluster_deleted(self, cluster: Any) -> None:
        """Stop what ``cluster_active`` started."""

    def nodegroups_changed(self, cluster: Any) -> None:
        """React to node groups appearing, scaling or going away."""


class EksLifecycle:
    """Wraps moto's EKS backend calls so that they take time, as on AWS."""

    def __init__(self, timeline: Timeline, durations: EksDurations, api: ClusterApiProvider):
        self.timeline = timeline
        self.durations = durations
        self.api = api
        self.network = ControlPlaneNetwork()

    def create_cluster(self, original: Callable, backend: Any, *args, access_config: dict | None = None, **kwargs):
        from coursehub_local.eks_cluster_rules import check_create, check_subnets

        name = kwargs.get("name", args[0] if args else "")
        version, access = check_create(name, kwargs.pop("version", None), access_config,
                                       self.timeline.clock.now().date())
        if name not in backend.clusters:  # an existing name is moto's ResourceInUseException, as on EKS
            ec2 = _ec2(backend)
            config = kwargs.get("resources_vpc_config") or {}
            subnets = [ec2.get_subnet(subnet) for subnet in config.get("subnetIds") or []]
            check_subnets(name, [(s.availability_zone, s.availability_zone_id) for s in subnets],
                          [(z.name, z.zone_id) for z in ec2.describe_availability_zones()])
        cluster = original(backend, *args, version=version, **kwargs)
        cluster.access_config = access
        cluster.status = "CREATING"

        def activate() -> None:
            if cluster.status == "CREATING":
                self.network.create(backend, cluster)
                self.api.cluster_active(cluster)
                cluster.status = "ACTIVE"
        self.timeline.after(self.durations.cluster_create, activate)
        return cluster

    def delete_cluster(self, original: Callable, backend: Any, name: str):
        cluster = backend.clusters.get(name)
        if cluster is not None and cluster.status == "DELETING":
            return cluster
        _check_deletable(backend, name)
        cluster = backend.clusters[name]
        cluster.status = "DELETING"

        def remove() -> None:
            if backend.clusters.get(name) is cluster:
                self.api.cluster_deleted(cluster)
                self.network.delete(backend, cluster)  # gone before the cluster is, as EKS reports it
                backend.clusters.pop(name)
                backend.cluster_count -= 1
        self.timeline.after(self.durations.cluster_delete, remove)
        return cluster

    def create_nodegroup(self, original: Callable, backend: Any, *args, **kwargs):
        nodegroup = original(backend, *args, **kwargs)
        nodegroup.status = "CREATING"
        cluster = backend.clusters[nodegroup.cluster_name]

        def activate() -> None:
            if nodegroup.status == "CREATING":
                nodegroup.status = "ACTIVE"
                self.api.nodegroups_changed(cluster)
        self.timeline.after(self.durations.nodegroup_create, activate)
        return nodegroup

    def delete_nodegroup(self, original: Callable, backend: Any, cluster_name: str, nodegroup_name: str):
        nodegroup = backend.describe_nodegroup(cluster_name, nodegroup_name)
        if nodegroup.status == "DELETING":
            return nodegroup
        if nodegroup.status in ("CREATING", "UPDATING"):  # as AWS: a node group mid-change cannot be deleted
            raise moto_patches.eks_error("ResourceInUseException")(
                clusterName=cluster_name, nodegroupName=nodegroup_name,
                message=f"Nodegroup {nodegroup_name} is {nodegroup.status}")
        cluster = backend.clusters[cluster_name]
        nodegroup.status = "DELETING"

        def remove() -> None:
            if cluster.nodegroups.get(nodegroup_name) is nodegroup:
                cluster.nodegroups.pop(nodegroup_name)
                cluster.nodegroup_count -= 1
                self.api.nodegroups_changed(cluster)
        self.timeline.after(self.durations.nodegroup_delete, remove)
        return nodegroup

    def update_nodegroup_config(self, original: Callable, backend: Any, cluster_name: str,
                                nodegroup_name: str, **kwargs):
        nodegroup = backend.describe_nodegroup(cluster_name, nodegroup_name)
        if nodegroup.status != "ACTIVE":
            raise moto_patches.eks_error("ResourceInUseException")(
                clusterName=cluster_name, nodegroupName=nodegroup_name,
                message=f"Nodegroup {nodegroup_name} is {nodegroup.status}; updates need ACTIVE")
        scaling = kwargs.pop("scaling_config", None)
        _check_scaling({**nodegroup.scaling_config, **(scaling or {})})
        update = original(backend, cluster_name, nodegroup_name, scaling_config=None, **kwargs)
        if scaling:
            update["params"].append({"type": "ScalingConfig", "value": json.dumps(scaling)})
        update["status"] = "InProgress"
        nodegroup.status = "UPDATING"
        cluster = backend.clusters[cluster_name]

        def apply() -> None:
            if scaling:
                nodegroup.scaling_config = {**nodegroup.scaling_config, **scaling}
            nodegroup.status = "ACTIVE"
            self.api.nodegroups_changed(cluster)
        self.timeline.after(self.durations.nodegroup_update, apply)
        return update


class ControlPlaneNetwork:
    """What EKS makes in the cluster's VPC: the cluster security group and the control plane's network interfaces.

    As the EKS user guide describes them (``sec-group-reqs``, "Default cluster security group"): a group
    ``eks-cluster-sg-<cluster>-<uniqueID>`` that lets in all traffic from itself and out everything, tagged
    ``kubernetes.io/cluster/<cluster>=owned``, ``aws:eks:cluster-name=<cluster>`` and ``Name``, which
    ``describe_cluster`` reports as ``resourcesVpcConfig.clusterSecurityGroupId`` and which managed node
    groups' instances use; and 2-4 network interfaces described ``Amazon EKS <cluster>``, one per zone of
    the cluster's subnets, in use (by EKS's own account), carrying that group and the cluster's own
    ``securityGroupIds``. They are not tagged (the cluster tag was only for Kubernetes 1.14 and earlier).
    EKS deletes both with the cluster. Made with moto's EC2 backend: this is EKS's side, not an API caller's.
    """

    DESCRIPTION = ("EKS created security group applied to ENI that is attached to EKS Control Plane master nodes, "
                   "as well as any managed workloads.")

    def create(self, backend: Any, cluster: Any) -> None:
        """Make the cluster security group and network interfaces; report the group in ``resourcesVpcConfig``."""
        ec2 = _ec2(backend)
        config = cluster.resources_vpc_config
        subnets = [ec2.get_subnet(subnet) for subnet in config.get("subnetIds") or []]
        if not subnets:
            return  # AWS refuses such a cluster; moto makes one, and it gets no network here
        vpc = subnets[0].vpc_id
        name = f"eks-cluster-sg-{cluster.name}-{random.randint(10**9, 10**10 - 1)}"
        group = ec2.create_security_group(name, self.DESCRIPTION, vpc_id=vpc, tags={
            f"kubernetes.io/cluster/{cluster.name}": "owned", "aws:eks:cluster-name": cluster.name, "Name": name})
        ec2.authorize_security_group_ingress(group.id, "-1", None, None, [], source_groups=[{"GroupId": group.id}],
                                             vpc_id=vpc)
        extra = list(config.get("securityGroupIds") or [])
        first_of_zone: dict[str, Any] = {}
        for subnet in subnets:
            first_of_zone.setdefault(subnet.availability_zone, subnet)
        for subnet in list(first_of_zone.values())[:4]:
            interface = ec2.create_network_interface(subnet, None, group_ids=[group.id, *extra],
                                                     description=self.interface_description(cluster))
            interface.status = "in-use"
        cluster.resources_vpc_config = {**config, "securityGroupIds": extra, "clusterSecurityGroupId": group.id,
                                        "vpcId": vpc}

    def delete(self, backend: Any, cluster: Any) -> None:
        """Delete what ``create`` made (what someone else deleted already is no error)."""
        ec2 = _ec2(backend)
        for interface in list(ec2.enis.values()):
            if interface.description == self.interface_description(cluster):
                ec2.delete_network_interface(interface.id)
        group = cluster.resources_vpc_config.get("clusterSecurityGroupId")
        if group:
            try:
                ec2.delete_security_group(group_id=group)
            except moto_patches.ec2_security_group_not_found():
                pass  # someone deleted it already

    @staticmethod
    def interface_description(cluster: Any) -> str:
        return f"Amazon EKS {cluster.name}"


def _ec2(backend: Any) -> Any:
    return moto_patches.ec2_backend(backend.account_id, backend.region_name)


def _check_deletable(backend: Any, name: str) -> None:
    """Raise as AWS does for a missing cluster, one still CREATING, or one with node groups."""
    cluster = backend.clusters.get(name)
    if cluster is None:
        raise moto_patches.eks_error("ResourceNotFoundException")(message=f"No cluster found for name: {name}.")
    if cluster.status == "CREATING":
        raise moto_patches.eks_error("ResourceInUseException")(
            clusterName=name, message=f"Cluster {name} is still CREATING")
    moto_patches.eks_check_deletable(cluster)


def _check_scaling(config: dict) -> None:
    low, high, want = config.get("minSize", 0), config.get("maxSize", 1), config.get("desiredSize", 0)
    if not (0 <= low <= want <= high) or high < 1:
        raise moto_patches.eks_error("InvalidParameterException")(
            message=f"Invalid scaling config minSize={low} desiredSize={want} maxSize={high}")
